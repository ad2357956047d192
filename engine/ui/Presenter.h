#pragma once
// A presentation's moving parts for one moment, shared by the viewer's presentation mode,
// `citytwin render --tour` and `citytwin render-tour`: the flood depth of baseline and
// variant at a simulation time (interpolated between the run's snapshots), their
// difference, the before/after split, and the overlay text (title, caption, clock, legend).
#include "render/Renderer.h"
#include "ui/CityScene.h"
#include "ui/Presentation.h"
#include "ui/Tour.h"

#include <filesystem>
#include <optional>

namespace ct::ui {

enum class ResultLayer { Depth, Difference };

class Presenter {
public:
    // `results`: a run's output folder (baseline/ and variant/, or flood/); empty: none.
    // InputError if the folder does not exist; one without flood results shows no water.
    Presenter(const CityScene& scene, const std::filesystem::path& results, std::optional<Tour> tour = std::nullopt);

    bool hasResults() const { return !baseline.empty() || baselineMax.has_value(); }
    bool hasVariant() const { return !variant.empty() || variantMax.has_value(); }
    double lastTime() const; // of the snapshots; 0 without
    const std::optional<Tour>& tour() const { return tour_; }

    // Puts the grids for simulation time t (nullopt: the maximum depth) into the renderer:
    // baseline on the left side, the variant on the right when split; the difference layer
    // (variant − baseline) on the left alone. Returns the left grid (none without results).
    std::optional<render::GridOverlay> apply(render::Renderer& renderer, std::optional<double> simTimeS, bool split,
                                             ResultLayer layer) const;
    render::ColorScale legend(ResultLayer layer) const;

    // Title, caption, clock, legend, labels and split names for a frame of the tour (or of
    // no tour: frame nullptr, the time given).
    OverlayContent overlay(const TourFrame* frame, std::optional<double> simTimeS, std::optional<float> splitAtPx,
                           ResultLayer layer) const;
    double groundZ() const { return ground; }

private:
    render::GridOverlay depthAt(const GridSeries& series, const std::optional<render::GridOverlay>& max,
                                std::optional<double> t) const;

    const CityScene& scene;
    std::optional<Tour> tour_;
    GridSeries baseline, variant;
    std::optional<render::GridOverlay> baselineMax, variantMax;
    render::ColorScale depthScale, differenceScale;
    float hideDepthAtOrBelow = 0.01f;
    double ground = 0;
};

} // namespace ct::ui
