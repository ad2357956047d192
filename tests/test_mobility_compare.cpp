// Side by side with SUMO (the peer tool as reference): the same netgenerate grid and the same
// randomTrips demand run by `sumo` and by citytwin (Krauss). Mean trip duration must agree
// within 15 % and completed trips within 5 % (docs/validation/mobility.md).
#include "sim/mobility/TrafficRun.h"

#include "TestSupport.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

using namespace ct;
using namespace ct::mobility;
namespace fs = std::filesystem;

namespace {

struct SumoResult {
    size_t arrived = 0;
    double meanDurationS = 0, meanRouteLengthM = 0;
};

int shell(const std::string& command) { return std::system(("{ " + command + "; } > /dev/null 2>&1").c_str()); }

bool sumoInstalled() {
    return fs::exists("/usr/bin/sumo") && fs::exists("/usr/bin/netgenerate") &&
           fs::exists("/usr/share/sumo/tools/randomTrips.py");
}

// tripinfo averages over the vehicles that arrived, like SUMO's --duration-log.statistics.
SumoResult readTripinfo(const fs::path& file) {
    std::ifstream in(file);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    SumoResult r;
    std::regex trip(R"re(<tripinfo [^>]*duration="([0-9.]+)"[^>]*routeLength="([0-9.]+)")re");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), trip); it != std::sregex_iterator(); ++it) {
        r.arrived++;
        r.meanDurationS += std::stod((*it)[1]);
        r.meanRouteLengthM += std::stod((*it)[2]);
    }
    if (r.arrived > 0) {
        r.meanDurationS /= double(r.arrived);
        r.meanRouteLengthM /= double(r.arrived);
    }
    return r;
}

void compareOnGrid(const std::string& netgenerateOptions, double period) {
    if (!sumoInstalled()) GTEST_SKIP() << "SUMO is not installed (Debian packages sumo, sumo-tools)";
    test::TempDir dir;
    const std::string d = dir.path().string();
    const std::string prepare = "cd '" + d + "' && export SUMO_HOME=/usr/share/sumo && " +
                                "netgenerate --grid --grid.number 5 --grid.length 200 " + netgenerateOptions +
                                " -o grid.net.xml && python3 /usr/share/sumo/tools/randomTrips.py -n grid.net.xml " +
                                "-o grid.trips.xml -b 0 -e 1800 -p " + std::to_string(period) + " --seed 42 --validate";
    ASSERT_EQ(shell(prepare), 0) << "netgenerate/randomTrips failed in " << d;
    ASSERT_EQ(shell("cd '" + d + "' && SUMO_HOME=/usr/share/sumo sumo -n grid.net.xml -r grid.trips.xml --tripinfo-output ti.xml --no-step-log"), 0);
    const SumoResult sumo = readTripinfo(dir / "ti.xml");

    TrafficRunOptions options;
    options.net = dir / "grid.net.xml";
    options.routes = {dir / "grid.trips.xml"};
    options.progress = false;
    const TrafficRunSummary ours = runTraffic(options);

    std::printf("SUMO: %zu arrived, mean %.1f s over %.0f m; citytwin: %zu arrived, mean %.1f s over %.0f m, "
                "%zu teleports\n",
                sumo.arrived, sumo.meanDurationS, sumo.meanRouteLengthM, ours.arrived, ours.meanDurationS,
                ours.meanRouteLengthM, ours.teleports);
    ASSERT_GT(sumo.arrived, 500u) << "the demand is meant to be substantial";
    EXPECT_NEAR(double(ours.arrived), double(sumo.arrived), 0.05 * double(sumo.arrived));
    EXPECT_NEAR(ours.meanDurationS, sumo.meanDurationS, 0.15 * sumo.meanDurationS);
    // Same network, same shortest paths: route lengths differ only by departure/arrival
    // positions on the first and last edge.
    EXPECT_NEAR(ours.meanRouteLengthM, sumo.meanRouteLengthM, 0.03 * sumo.meanRouteLengthM);
}

} // namespace

// One lane per direction, priority junctions (netgenerate's default), one trip every 2 s.
TEST(CompareSumo, PriorityGrid) { compareOnGrid("--default.speed 13.89", 2.0); }

// Two lanes per direction, traffic signals guessed by netconvert, one trip per second: lane
// changes towards turning lanes, signal programs, left turns yielding on green.
TEST(CompareSumo, SignalisedTwoLaneGrid) { compareOnGrid("--default.lanenumber 2 --tls.guess true", 1.0); }

// A real SUMO scenario: the signalised junction OWL322 in Lemgo (Kreis Lippe) with demand
// calibrated on a manual count (../shared/data/real/sumo-lemgo-owl322, 15:00–16:10). SUMO
// runs its own config (sublane model on); citytwin reads the same .sumocfg.
TEST(CompareSumo, LemgoOwl322) {
    if (!sumoInstalled()) GTEST_SKIP() << "SUMO is not installed (Debian packages sumo, sumo-tools)";
    const fs::path source = test::sharedData() / "real" / "sumo-lemgo-owl322";
    if (!fs::exists(source / "sumo.sumocfg")) GTEST_SKIP() << "real data not present: " << source;
    test::TempDir dir; // SUMO writes its outputs beside the config: run a copy
    fs::copy(source, dir / "lemgo", fs::copy_options::recursive);
    const std::string cmd = "cd '" + (dir / "lemgo").string() +
                            "' && SUMO_HOME=/usr/share/sumo sumo -c sumo.sumocfg --output-prefix \"\" --human-readable-time false --tripinfo-output ti.xml --no-step-log";
    ASSERT_EQ(shell(cmd), 0);
    const SumoResult sumo = readTripinfo(dir / "lemgo" / "ti.xml");

    TrafficRunOptions options;
    options.config = source / "sumo.sumocfg";
    options.progress = false;
    const TrafficRunSummary ours = runTraffic(options);
    std::printf("Lemgo: SUMO %zu arrived, mean %.1f s; citytwin %zu arrived of %zu, mean %.1f s, %zu teleports\n",
                sumo.arrived, sumo.meanDurationS, ours.arrived, ours.trips, ours.arrived ? ours.meanDurationS : 0.0,
                ours.teleports);
    ASSERT_GT(sumo.arrived, 1000u);
    EXPECT_NEAR(double(ours.arrived), double(sumo.arrived), 0.05 * double(sumo.arrived));
    EXPECT_NEAR(ours.meanDurationS, sumo.meanDurationS, 0.15 * sumo.meanDurationS);
}
