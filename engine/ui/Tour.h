#pragma once
// Camera bookmarks and tours for presentations: named views of the city, a sequence of stops
// the camera glides between (eased, no flips), simulation-time ranges played during a stop,
// captions, place labels and the before/after names. Read from a tour YAML (docs/presentation.md).
#include "city/CityModel.h"
#include "core/SimClock.h"
#include "render/Camera.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ct::ui {

// A text in English and German; get() gives the current language's (or the other if empty).
struct LocalText {
    std::string en, de;
    std::string get() const;
    bool empty() const { return en.empty() && de.empty(); }
};

struct Bookmark {
    std::string name;
    render::Camera camera; // local frame
};

struct TourStop {
    size_t bookmark = 0;   // index into Tour::bookmarks
    double glideS = 4;     // flight from the previous stop (ignored for the first)
    double holdS = 3;      // standing still at the stop
    // Simulation time (seconds after the scenario's start) played from .first to .second
    // while flying to and standing at this stop; none: time stands where it was.
    std::optional<std::pair<double, double>> simTime;
    LocalText caption;
};

// Text at a place (local frame), drawn screen-space on top of the city.
struct PlaceLabel {
    LocalText text;
    Vec3 position{0, 0, 0};
};

struct TourFrame {
    render::Camera camera;
    size_t stop = 0;          // the stop flown to or standing at
    bool holding = false;     // standing at `stop` (not flying)
    std::optional<double> simTimeS;
};

struct Tour {
    std::filesystem::path file;
    LocalText title, subtitle;
    LocalText baselineName, variantName; // split view: "heute" | "mit Schutzwand"
    bool split = false;                  // start with the before/after split view
    // The sun stands where it stands at this instant for the whole tour (a flood at dawn
    // shown in daylight); none: the sun follows the simulation clock.
    std::optional<Instant> lightAt;
    std::vector<Bookmark> bookmarks;
    std::vector<TourStop> stops;
    std::vector<PlaceLabel> labels;

    double duration() const;
    // When the camera arrives at stop i (the first stop at 0).
    double arrival(size_t stop) const;
    // Camera and simulation time at tour time t (clamped to [0, duration]).
    TourFrame at(double t) const;
    // The bookmark's index, or nullopt.
    std::optional<size_t> find(const std::string& name) const;
};

// Reads a tour; bookmark coordinates are in the city's CRS (x, y; heights above sea level,
// or looked up on the terrain). InputError with file:line for anything wrong.
Tour loadTour(const std::filesystem::path& file, const CityModel& city);
// Writes bookmarks and stops back (CRS coordinates), e.g. after adding bookmarks in the viewer.
void saveTour(const Tour& tour, const std::filesystem::path& file, const CityModel& city);

// The camera between two views at eased fraction s in [0, 1]: position along a gentle arc,
// heading along the shorter way round, pitch linear. At s = 0 and 1 exactly a and b.
render::Camera glide(const render::Camera& a, const render::Camera& b, double s);

} // namespace ct::ui
