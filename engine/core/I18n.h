#pragma once
// The language of everything a user reads in pictures, videos and the viewer: English or
// German. Texts are looked up by their English wording (tr("Water depth") → "Wassertiefe");
// numbers and dates follow the language ("1,234.5" / "1.234,5"). Terminal messages stay
// English. The catalogue is in I18n.cpp; docs/presentation.md says how to add a text.
#include "core/SimClock.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ct {

enum class Language { English, German };

// "en", "de", "de_DE.UTF-8", "German" … (case-insensitive); nullopt if not one of ours.
std::optional<Language> parseLanguage(const std::string& text);
const char* languageCode(Language language); // "en", "de"

// The current language: set by --lang or the viewer's menu; at start $CITYTWIN_LANG, else
// German if $LANG starts with "de", else English.
Language language();
void setLanguage(Language language);

// `english` in the current language. A text missing from the catalogue comes back as it is
// (and the catalogue test fails for it).
const char* tr(const char* english);
std::string tr(const std::string& english);

// Every catalogue entry as (English, German), for tests and translators.
const std::vector<std::pair<const char*, const char*>>& catalogue();

// 1234.5 with `decimals` places: "1,234.5" in English, "1.234,5" in German; −0 prints as 0.
std::string formatNumber(double value, int decimals);
// A value with its unit and the decimals a reader needs: "1.234,5 m³", "0,35 m".
std::string formatQuantity(double value, const std::string& unit, int decimals);
// Local date and time of an instant: "03.02.2026 09:30" / "2026-02-03 09:30".
std::string formatDateTime(const Instant& instant);

} // namespace ct
