#include "core/I18n.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <unordered_map>

namespace ct {

namespace {

// English → German. Keys are the exact English texts used in the code; "{}" placeholders
// must appear in both, in the same order.
const std::vector<std::pair<const char*, const char*>> entries = {
    // Legends and result names
    {"Water depth", "Wassertiefe"},
    {"Flow velocity", "Fließgeschwindigkeit"},
    {"Flood hazard rating", "Gefährdungsindex (DEFRA)"},
    {"Arrival time", "Ankunftszeit"},
    {"Depth difference (variant – baseline)", "Tiefendifferenz (Variante – heute)"},
    {"Building height", "Gebäudehöhe"},
    {"Storeys", "Geschosse"},
    {"Year built", "Baujahr"},
    {"Building use", "Gebäudenutzung"},
    {"residential", "Wohnen"},
    {"mixed", "gemischt"},
    {"commercial", "Gewerbe, Handel"},
    {"industrial", "Industrie"},
    {"public", "Gemeinbedarf"},
    {"religious", "religiös"},
    {"agricultural", "Landwirtschaft"},
    {"garage", "Garage"},
    {"other", "sonstige"},
    {"unknown", "unbekannt"},
    {"Footprint area", "Grundfläche"},
    {"Speed limit", "Höchstgeschwindigkeit"},
    {"Speed / speed limit", "Geschwindigkeit / Tempolimit"},
    {"Counted flow", "Gezählte Verkehrsstärke"},
    {"Lanes per direction", "Fahrstreifen je Richtung"},
    {"Heat demand", "Heizwärmebedarf"},
    {"Peak heat load", "Heizlast"},
    {"PV specific yield", "PV-Ertrag je kWp"},
    {"PV potential", "PV-Potenzial"},
    {"PV shading loss", "PV-Verschattungsverlust"},
    {"Load curve", "Lastgang"},
    {"net load", "Nettolast"},
    {"households", "Haushalte"},
    {"heat pumps", "Wärmepumpen"},
    {"electric cars", "E-Autos"},
    {"this week", "diese Woche"},
    {"the year", "das Jahr"},
    {"min", "min"},
    // Presentation
    {"baseline", "heute"},
    {"variant", "Variante"},
    {"N", "N"},
    {"Esc: leave the presentation", "Esc: Präsentation beenden"},
    {"Right/Page Down: next   Left/Page Up: back   Space: play/pause   B: before/after   Esc: leave",
     "Rechts/Bild ab: weiter   Links/Bild auf: zurück   Leertaste: Start/Pause   B: vorher/nachher   Esc: beenden"},
    {"Stop {} of {}", "Station {} von {}"},
    {"{} after the start", "{} nach Beginn"},
    // Viewer: menus
    {"File", "Datei"},
    {"Open scenario...", "Szenario öffnen ..."},
    {"Screenshot", "Bildschirmfoto"},
    {"Export tour video...", "Tour als Video exportieren ..."},
    {"Export 4K still", "4K-Standbild exportieren"},
    {"Quit", "Beenden"},
    {"View", "Ansicht"},
    {"Layers", "Ebenen"},
    {"Legend", "Legende"},
    {"Inspector", "Eigenschaften"},
    {"Time", "Zeit"},
    {"Statistics", "Statistik"},
    {"Overview", "Übersicht"},
    {"Vsync", "VSync"},
    {"Places", "Orte"},
    {"building or street name", "Gebäude- oder Straßenname"},
    {"flying to {}", "fliege zu {}"},
    {"no building or street named '{}'", "kein Gebäude und keine Straße namens »{}«"},
    {"Presentation", "Präsentation"},
    {"Start presentation", "Präsentation starten"},
    {"Before/after (split view)", "Vorher/nachher (geteilte Ansicht)"},
    {"Difference layer", "Differenz-Ebene"},
    {"Language", "Sprache"},
    {"English", "Englisch"},
    {"German", "Deutsch"},
    {"Bookmarks", "Lesezeichen"},
    {"Add bookmark here", "Lesezeichen hier setzen"},
    {"Save tour", "Tour speichern"},
    {"saved {}", "{} gespeichert"},
    {"could not save: {}", "Speichern fehlgeschlagen: {}"},
    {"bookmark {}", "Lesezeichen {}"},
    {"Open scenario", "Szenario öffnen"},
    {"scenario YAML", "Szenario-YAML"},
    {"Open", "Öffnen"},
    {"Cancel", "Abbrechen"},
    {"opened {}", "{} geöffnet"},
    {"could not open: {}", "Öffnen fehlgeschlagen: {}"},
    {"writing video {}", "schreibe Video {}"},
    {"writing still {}", "schreibe Standbild {}"},
    {"video written: {}", "Video geschrieben: {}"},
    {"still written: {}", "Standbild geschrieben: {}"},
    {"export failed: {}", "Export fehlgeschlagen: {}"},
    // Viewer: layers panel
    {"Terrain", "Gelände"},
    {"Water bodies", "Gewässer"},
    {"Buildings", "Gebäude"},
    {"Roads", "Straßen"},
    {"Labels", "Beschriftungen"},
    {"Vehicles", "Fahrzeuge"},
    {"Road", "Straße"},
    {"Road traffic", "Straßenverkehr"},
    {"edge", "Abschnitt"},
    {"towards node", "Richtung Knoten"},
    {"no traffic", "kein Verkehr"},
    {"now:", "jetzt:"},
    {"speed / limit now", "Geschwindigkeit / Tempolimit jetzt"},
    {"No vehicle drove on this road during the run.", "Auf dieser Straße ist während des Laufs kein Fahrzeug gefahren."},
    {"traffic on a SUMO network is not drawn (its coordinates are not the city's)",
     "Verkehr auf einem SUMO-Netz wird nicht gezeichnet (seine Koordinaten sind nicht die der Stadt)"},
    {"opacity", "Deckkraft"},
    {"buildings by", "Gebäude nach"},
    {"roads by", "Straßen nach"},
    {"none", "keine"},
    {"height", "Höhe"},
    {"levels", "Geschosse"},
    {"year", "Baujahr"},
    {"use", "Nutzung"},
    {"area", "Fläche"},
    {"speed", "Tempo"},
    {"lanes", "Fahrstreifen"},
    {"traffic", "Verkehr"},
    {"counted flow", "gezählte Verkehrsstärke"},
    {"Shadows", "Schatten"},
    {"Hillshade", "Schummerung"},
    {"terrain detail", "Geländedetail"},
    {"Simplify far buildings", "Ferne Gebäude vereinfachen"},
    // Viewer: inspector
    {"Click a building, road or the ground. Double click flies there; F flies to the selection.",
     "Klicken Sie auf ein Gebäude, eine Straße oder den Boden. Doppelklick fliegt dorthin; F fliegt zur Auswahl."},
    {"Point", "Punkt"},
    {"local", "lokal"},
    {"Height above sea level", "Höhe über NN"},
    {"Building {}", "Gebäude {}"},
    {"id", "Kennung"},
    {"name", "Name"},
    {"storeys", "Geschosse"},
    {"built", "Baujahr"},
    {"footprint", "Grundfläche"},
    {"ground", "Geländehöhe"},
    {"Road edge {}", "Straßenabschnitt {}"},
    {"way", "Weg"},
    {"class", "Klasse"},
    {"length", "Länge"},
    {"two-way", "beide Richtungen"},
    {"one-way", "Einbahnstraße"},
    {"bridge", "Brücke"},
    {"water", "Gewässer"},
    {"land use", "Flächennutzung"},
    {"sealed", "versiegelt"},
    {"value", "Wert"},
    // Viewer: time and statistics
    {"Play", "Abspielen"},
    {"Pause", "Pause"},
    {"speed x", "Tempo ×"},
    {"simulated {} of {} min ({})", "{} von {} min simuliert ({})"},
    {"simulation stopped: {}", "Simulation angehalten: {}"},
    {"triangles", "Dreiecke"},
    {"draws", "Zeichenaufrufe"},
    {"chunks drawn", "gezeichnete Kacheln"},
    {"culled", "verworfen"},
    {"buildings as points", "Gebäude als Punkte"},
    {"GPU memory", "Grafikspeicher"},
    {"camera", "Kamera"},
    {"Sun", "Sonne"},
    // Live feeds: the Feeds panel and a sensor's window (docs/plugins.md, "The viewer")
    {"Feeds", "Datenquellen"},
    {"Feed", "Quelle"},
    {"Plugin", "Plugin"},
    {"State", "Zustand"},
    {"msg/s", "Nachr./s"},
    {"published", "veröffentlicht"},
    {"stored", "gespeichert"},
    {"duplicates", "Duplikate"},
    {"dropped", "verworfen"},
    {"rejected", "abgelehnt"},
    {"last message", "letzte Nachricht"},
    {"detail", "Details"},
    {"starting", "startet"},
    {"connected", "verbunden"},
    {"reconnecting", "verbindet neu"},
    {"error", "Fehler"},
    {"stopped", "gestoppt"},
    {"never", "nie"},
    {"{} s ago", "vor {} s"},
    {"{} min ago", "vor {} min"},
    {"{} h ago", "vor {} h"},
    {"no feed could be started", "keine Quelle konnte gestartet werden"},
    {"Start feeds", "Quellen starten"},
    {"recorded", "aufgezeichnet"},
    {"No live feeds running and no recorded sensors.", "Keine Live-Quellen aktiv und keine aufgezeichneten Sensoren."},
    {"Sensor", "Sensor"},
    {"latest value", "letzter Wert"},
    {"time", "Zeit"},
    {"quantity", "Größe"},
    {"unit", "Einheit"},
    {"location", "Standort"},
    {"warning above", "Warnung über"},
    {"alarm above", "Alarm über"},
    {"history", "Verlauf"},
    {"last 6 h", "letzte 6 h"},
    {"last 24 h", "letzte 24 h"},
    {"last 7 d", "letzte 7 Tage"},
    {"all", "alles"},
    {"no observations in this window", "keine Messwerte in diesem Zeitraum"},
    {"max", "max"},
    {"{} observations", "{} Messwerte"},
    {"Export CSV", "CSV exportieren"},
    {"wrote {} rows to {}", "{} Zeilen nach {} geschrieben"},
    // A traffic detector's window: where it counts (docs/mobility.md, "In the viewer")
    {"counts on", "zählt auf"},
    {"not on a road", "auf keiner Straße"},
    {"no count yet", "noch keine Zählung"},
    {"eastbound", "Richtung Osten"},
    {"north-eastbound", "Richtung Nordosten"},
    {"northbound", "Richtung Norden"},
    {"north-westbound", "Richtung Nordwesten"},
    {"westbound", "Richtung Westen"},
    {"south-westbound", "Richtung Südwesten"},
    {"southbound", "Richtung Süden"},
    {"south-eastbound", "Richtung Südosten"},
};

std::atomic<int> current{-1}; // −1: not decided yet

Language fromEnvironment() {
    for (const char* var : {"CITYTWIN_LANG", "LANG"})
        if (const char* v = std::getenv(var))
            if (auto l = parseLanguage(v)) return *l;
    return Language::English;
}

const std::unordered_map<std::string, const char*>& germanIndex() {
    static const std::unordered_map<std::string, const char*> index = [] {
        std::unordered_map<std::string, const char*> m;
        for (auto& [en, de] : entries) m.emplace(en, de);
        return m;
    }();
    return index;
}

} // namespace

std::optional<Language> parseLanguage(const std::string& text) {
    std::string t;
    for (char c : text) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto starts = [&](const char* p) { return t.rfind(p, 0) == 0; };
    if (t == "de" || starts("de_") || starts("de-") || starts("de.") || t == "german" || t == "deutsch") return Language::German;
    if (t == "en" || starts("en_") || starts("en-") || starts("en.") || t == "english" || t == "c" || t == "posix" || starts("c."))
        return Language::English;
    return std::nullopt;
}

const char* languageCode(Language language) { return language == Language::German ? "de" : "en"; }

Language language() {
    int c = current.load();
    if (c < 0) {
        c = static_cast<int>(fromEnvironment());
        current.store(c);
    }
    return static_cast<Language>(c);
}

void setLanguage(Language l) { current.store(static_cast<int>(l)); }

const char* tr(const char* english) {
    if (language() == Language::English) return english;
    auto& index = germanIndex();
    auto it = index.find(english);
    return it == index.end() ? english : it->second;
}

std::string tr(const std::string& english) { return tr(english.c_str()); }

const std::vector<std::pair<const char*, const char*>>& catalogue() { return entries; }

std::string formatNumber(double value, int decimals) {
    decimals = std::clamp(decimals, 0, 9);
    std::string plain = fmt::format("{:.{}f}", std::abs(value), decimals);
    bool negative = value < 0 && plain.find_first_not_of("0.") != std::string::npos; // −0.0 → "0"
    size_t dot = plain.find('.');
    std::string whole = plain.substr(0, dot), fraction = dot == std::string::npos ? "" : plain.substr(dot + 1);
    bool german = language() == Language::German;
    std::string grouped;
    for (size_t i = 0; i < whole.size(); ++i) {
        if (i > 0 && (whole.size() - i) % 3 == 0) grouped += german ? '.' : ',';
        grouped += whole[i];
    }
    std::string out = (negative ? "-" : "") + grouped;
    if (!fraction.empty()) out += (german ? "," : ".") + fraction;
    return out;
}

std::string formatQuantity(double value, const std::string& unit, int decimals) {
    return unit.empty() ? formatNumber(value, decimals) : formatNumber(value, decimals) + "\u00a0" + unit; // no-break space
}

std::string formatDateTime(const Instant& instant) {
    std::string iso = instant.iso(); // YYYY-MM-DDTHH:MM:SS±hh:mm
    std::string y = iso.substr(0, 4), mo = iso.substr(5, 2), d = iso.substr(8, 2), hm = iso.substr(11, 5);
    if (language() == Language::German) return fmt::format("{}.{}.{} {}", d, mo, y, hm);
    return fmt::format("{}-{}-{} {}", y, mo, d, hm);
}

} // namespace ct
