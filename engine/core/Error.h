#pragma once
// Errors at the boundaries: what went wrong, where, and what to do about it.
#include <stdexcept>
#include <string>

namespace ct {

// An input the program cannot use (missing file, bad CRS, YAML typo...).
// `where` names the file/layer/feature/line, `hint` says what the user can do.
class InputError : public std::runtime_error {
public:
    InputError(std::string what, std::string where = {}, std::string hint = {})
        : std::runtime_error(compose(what, where, hint)), whatPart(std::move(what)),
          wherePart(std::move(where)), hintPart(std::move(hint)) {}

    const std::string& problem() const { return whatPart; }
    const std::string& where() const { return wherePart; }
    const std::string& hint() const { return hintPart; }

private:
    static std::string compose(const std::string& what, const std::string& where,
                               const std::string& hint) {
        std::string s = where.empty() ? what : where + ": " + what;
        if (!hint.empty()) s += " (" + hint + ")";
        return s;
    }
    std::string whatPart, wherePart, hintPart;
};

} // namespace ct
