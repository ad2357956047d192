#include "ui/Presenter.h"

#include "core/Error.h"
#include "core/I18n.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace ct::ui {

namespace fs = std::filesystem;

namespace {
std::optional<render::GridOverlay> maxDepth(const fs::path& results, bool variant, const CityModel& city) {
    std::vector<fs::path> candidates = variant ? std::vector<fs::path>{results / "variant" / "flood" / "max_depth.tif"}
                                               : std::vector<fs::path>{results / "flood" / "max_depth.tif",
                                                                       results / "baseline" / "flood" / "max_depth.tif"};
    for (auto& f : candidates)
        if (fs::exists(f)) return gridFromRaster(f, city);
    return std::nullopt;
}

} // namespace

Presenter::Presenter(const CityScene& scene, const fs::path& results, std::optional<Tour> tour)
    : scene(scene), tour_(std::move(tour)), ground(typicalGroundZ(scene.city)) {
    if (!results.empty()) {
        if (!fs::is_directory(results))
            throw InputError("results folder not found", results.string(), "run the scenario first: citytwin run <scenario.yaml>");
        baseline = loadGridSeries(findDepthSnapshots(results), scene.city);
        variant = loadGridSeries(findDepthSnapshots(results, true), scene.city);
        baselineMax = maxDepth(results, false, scene.city);
        variantMax = maxDepth(results, true, scene.city);
    }
    // One depth scale for everything shown, so left and right, early and late read alike.
    std::vector<const std::vector<float>*> grids;
    for (auto* m : {&baselineMax, &variantMax})
        if (*m) grids.push_back(&(*m)->values);
    for (auto* s : {&baseline, &variant})
        if (!s->empty()) grids.push_back(&s->frames.back().second.values);
    ResultStyle style = resultStyle("max_depth", grids);
    depthScale = style.scale;
    depthScale.title = "Water depth";
    hideDepthAtOrBelow = style.hideAtOrBelow;
    float range = std::max(0.25f, std::round(depthScale.max * 2) / 4); // ± half the depth scale
    differenceScale = {render::ColorMap::Diverging, -range, range, "Depth difference (variant – baseline)", "m"};
}

double Presenter::lastTime() const {
    double t = 0;
    for (auto* s : {&baseline, &variant})
        if (!s->empty()) t = std::max(t, s->frames.back().first);
    return t;
}


render::GridOverlay Presenter::depthAt(const GridSeries& series, const std::optional<render::GridOverlay>& max,
                                       std::optional<double> t) const {
    render::GridOverlay g = (t && !series.empty()) || !max ? series.at(t.value_or(lastTime())) : *max;
    g.scale = depthScale;
    g.hideAtOrBelow = hideDepthAtOrBelow;
    return g;
}

std::optional<render::GridOverlay> Presenter::apply(render::Renderer& renderer, std::optional<double> t, bool split,
                                                    ResultLayer layer) const {
    using render::Side;
    if (!hasResults()) {
        renderer.setGrid(nullptr, Side::Left);
        renderer.setGrid(nullptr, Side::Right);
        return std::nullopt;
    }
    render::GridOverlay left = depthAt(baseline, baselineMax, t);
    if (layer == ResultLayer::Difference && hasVariant()) {
        render::GridOverlay right = depthAt(variant, variantMax, t);
        if (right.values.size() == left.values.size()) {
            for (size_t i = 0; i < left.values.size(); ++i) {
                float a = std::isnan(left.values[i]) ? 0 : left.values[i], b = std::isnan(right.values[i]) ? 0 : right.values[i];
                left.values[i] = std::isnan(left.values[i]) && std::isnan(right.values[i]) ? NAN : b - a;
            }
            left.scale = differenceScale;
            left.hideAtOrBelow = -std::numeric_limits<float>::infinity();
            // Differences under 5 cm do not change what a council decides: leave them clear.
            for (float& v : left.values)
                if (std::abs(v) < 0.05f) v = NAN;
        }
        renderer.setGrid(&left, Side::Left);
        return left;
    }
    renderer.setGrid(&left, Side::Left);
    if (split && hasVariant()) {
        render::GridOverlay right = depthAt(variant, variantMax, t);
        renderer.setGrid(&right, Side::Right);
    }
    return left;
}

render::ColorScale Presenter::legend(ResultLayer layer) const {
    return layer == ResultLayer::Difference && hasVariant() ? differenceScale : depthScale;
}

OverlayContent Presenter::overlay(const TourFrame* frame, std::optional<double> t, std::optional<float> splitAtPx,
                                  ResultLayer layer) const {
    OverlayContent c;
    const Tour* tour = tour_ ? &*tour_ : nullptr;
    c.title = tour && !tour->title.empty() ? tour->title.get() : scene.scenario.name;
    c.subtitle = tour && !tour->subtitle.empty() ? tour->subtitle.get() : scene.scenario.description;
    if (tour && frame && frame->stop < tour->stops.size()) {
        c.caption = tour->stops[frame->stop].caption.get();
        c.stopInfo = fmt::format(fmt::runtime(tr("Stop {} of {}")), frame->stop + 1, tour->stops.size());
    }
    if (tour) c.labels = tour->labels;
    if (hasResults()) c.legends.push_back(legend(layer));
    if (t) {
        Instant now = scene.scenario.start;
        now.utcSeconds += int64_t(std::llround(*t));
        c.clock = now;
        c.elapsedS = *t;
    }
    if (splitAtPx && hasVariant() && layer == ResultLayer::Depth) {
        c.splitAtPx = splitAtPx;
        c.leftName = tour ? tour->baselineName.get() : tr("baseline");
        c.rightName = tour ? tour->variantName.get() : tr("variant");
    }
    return c;
}

} // namespace ct::ui
