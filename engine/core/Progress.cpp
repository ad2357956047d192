#include "core/Progress.h"

#include <algorithm>
#include <cstdio>
#include <unistd.h>

namespace ct {

Progress::Progress(std::string labelIn, bool enabledIn)
    : label(std::move(labelIn)), enabled(enabledIn), terminal(isatty(STDERR_FILENO) != 0),
      start(std::chrono::steady_clock::now()), lastDraw(start - std::chrono::seconds(1)) {}

Progress::~Progress() {
    if (!finished) finish();
}

void Progress::update(double fraction, const std::string& detail) {
    if (!enabled) return;
    fraction = std::clamp(fraction, 0.0, 1.0);
    auto now = std::chrono::steady_clock::now();
    double elapsed = std::chrono::duration<double>(now - start).count();
    if (terminal) {
        if (now - lastDraw < std::chrono::milliseconds(100) && fraction < 1.0) return;
        lastDraw = now;
        constexpr int width = 30;
        int filled = static_cast<int>(fraction * width);
        std::string bar(filled, '#');
        bar.resize(width, '.');
        std::fprintf(stderr, "\r%-18s [%s] %5.1f%% %6.1fs %s\033[K", label.c_str(), bar.c_str(),
                     fraction * 100.0, elapsed, detail.c_str());
        std::fflush(stderr);
    } else {
        int decile = static_cast<int>(fraction * 10.0);
        if (decile == lastDecile) return;
        lastDecile = decile;
        std::fprintf(stderr, "%s: %3d%% (%.1f s) %s\n", label.c_str(), decile * 10, elapsed,
                     detail.c_str());
    }
}

void Progress::finish(const std::string& detail) {
    if (finished) return;
    finished = true;
    if (!enabled) return;
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (terminal)
        std::fprintf(stderr, "\r%-18s done in %.2f s %s\033[K\n", label.c_str(), elapsed,
                     detail.c_str());
    else
        std::fprintf(stderr, "%s: done in %.2f s %s\n", label.c_str(), elapsed, detail.c_str());
}

} // namespace ct
