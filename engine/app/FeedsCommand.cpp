// `citytwin feeds`: the scenario's live feeds, headless — plugins started, what they publish
// stored in DIR/feeds/sensors.sqlite, a status table while it runs, and CSV/GPKG exports at
// the end (docs/plugins.md).
#include "app/Commands.h"
#include "core/Error.h"
#include "feeds/PluginHost.h"
#include "sim/Scenario.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fmt/format.h>
#include <thread>

namespace ct::app {

namespace fs = std::filesystem;

namespace {
std::atomic<bool> interrupted{false};
} // namespace

std::string feedConfigJson(const FeedBlock& feed, const Scenario& scenario) {
    // Plugins resolve relative paths in their config against the scenario's folder.
    YAML::Node config = YAML::Clone(feed.config);
    if (config.IsMap() && !config["scenario_dir"])
        config["scenario_dir"] = fs::absolute(scenario.file.parent_path().empty() ? fs::path(".") : scenario.file.parent_path()).string();
    return yamlToJsonText(config);
}

int feeds(const FeedsCommandOptions& o) {
    Scenario scenario = Scenario::fromYaml(o.scenario);
    if (scenario.feeds.empty())
        throw InputError("the scenario has no feeds", o.scenario.string(), "add a 'feeds:' list (docs/plugins.md)");
    double forS = 0; // 0: until every feed has stopped, or Ctrl-C
    if (!o.duration.empty()) {
        auto d = parseDurationSeconds(o.duration);
        if (!d || *d < 0) throw InputError(fmt::format("bad duration '{}'", o.duration), "--for", "e.g. 60, 90s, 10min");
        forS = *d;
    }
    auto every = parseDurationSeconds(o.every);
    if (!every || *every <= 0) throw InputError(fmt::format("bad interval '{}'", o.every), "--every", "e.g. 2s");
    fs::path dir = (o.outDir.empty() ? scenario.outputDir : o.outDir) / "feeds";
    fs::create_directories(dir);
    feeds::SensorStore store(dir / "sensors.sqlite");
    size_t before = store.counts().observations;

    int started = 0;
    {
        feeds::FeedHost host(store);
        for (const FeedBlock& f : scenario.feeds) {
            try {
                host.addFeed({f.name, f.plugin, feedConfigJson(f, scenario)});
                ++started;
            } catch (const InputError& e) { // one feed that cannot load does not stop the others
                std::fprintf(stderr, "error: %s: feed '%s': %s\n", f.where.c_str(), f.name.c_str(), e.what());
            }
        }
        if (started == 0) throw InputError("no feed could be started", o.scenario.string(), "see the errors above");
        host.startPump();
        auto previous = std::signal(SIGINT, [](int) { interrupted = true; });
        const auto t0 = std::chrono::steady_clock::now();
        auto nextPrint = t0;
        while (!interrupted) {
            double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            auto status = host.status();
            bool running = false;
            for (auto& s : status) running = running || (s.state != feeds::FeedState::Stopped && s.state != feeds::FeedState::Error);
            if (!o.quiet && std::chrono::steady_clock::now() >= nextPrint) {
                std::printf("%s\n", feeds::formatStatusTable(status).c_str());
                std::fflush(stdout);
                nextPrint += std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(*every));
            }
            if ((forS > 0 && elapsed >= forS) || !running) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        std::signal(SIGINT, previous);
        host.stopAll();
        host.flush();
        std::printf("%s\n", feeds::formatStatusTable(host.status()).c_str());
    }
    size_t csvRows = store.exportCsv(dir / "observations.csv");
    size_t points = store.exportGpkg(dir / "sensors.gpkg");
    auto counts = store.counts();
    std::printf("stored %llu new observations of %llu sensors in %s (%llu in all); exported %zu rows to observations.csv, "
                "%zu sensors to sensors.gpkg%s\n",
                static_cast<unsigned long long>(counts.observations - before), static_cast<unsigned long long>(counts.sensors),
                (dir / "sensors.sqlite").c_str(), static_cast<unsigned long long>(counts.observations), csvRows, points,
                interrupted ? " (interrupted)" : "");
    return 0;
}

} // namespace ct::app
