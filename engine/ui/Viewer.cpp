#include "ui/Viewer.h"

#include "core/Error.h"
#include "core/I18n.h"
#include "feeds/PluginHost.h"
#include "feeds/SensorStore.h"
#include "physics/Picking.h"
#include "render/Offscreen.h"
#include "render/Swapchain.h"
#include "sim/Runner.h"
#include "ui/Presentation.h"
#include "ui/Presenter.h"
#include "ui/RoadCounts.h"
#include "ui/SensorPanel.h"
#include "ui/Traffic.h"

#define GLFW_INCLUDE_VULKAN
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_vulkan.h>
#include <imgui.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace ct::ui {

namespace fs = std::filesystem;
using render::Camera;

namespace {

constexpr int kFrames = render::Renderer::framesInFlight;
// Attribute names (what buildingValues/roadValues take); shown translated.
const char* buildingColorChoices[] = {"none", "height", "levels", "year", "use", "area"};
// "traffic" (speed over the limit) only where a mobility run or its results are there,
// "counted flow" (traffic detector counts) only where the scene has a sensor store.
const char* roadColorChoices[] = {"none", "speed", "lanes", "traffic", "counted flow"};
constexpr int kRoadByTraffic = 3, kRoadByCounts = 4;

// ImGui combo items in the current language.
template <size_t N>
std::array<const char*, N> translated(const char* (&items)[N]) {
    std::array<const char*, N> out;
    for (size_t i = 0; i < N; ++i) out[i] = tr(items[i]);
    return out;
}

// A window title in the current language with a fixed ImGui id, so switching the language
// keeps the window where it is.
std::string windowTitle(const char* english) { return fmt::format("{}###{}", tr(english), english); }

// After the window is resized a panel keeps its place against the edge it was nearer to (left
// or right, top or bottom): it stays, or moves with that edge; one about centred moves half as
// far. Then it is moved inside the window, below the menu bar at `top`, as far as it fits.
// `pos` is where the panel was before the resize (ImGui has moved it partly inside already).
// Called between Begin and End.
void followWindowResize(ImVec2 before, ImVec2 now, ImVec2 pos, float top) {
    if (before.x == now.x && before.y == now.y) return;
    const ImVec2 size = ImGui::GetWindowSize();
    auto follow = [](float p, float extent, float was, float is, float low) {
        const float nearGap = p, farGap = was - (p + extent);
        p += std::abs(nearGap - farGap) < was / 10 ? (is - was) / 2 : farGap < nearGap ? is - was : 0;
        return std::max(low, std::min(p, is - extent));
    };
    ImGui::SetWindowPos(ImVec2(follow(pos.x, size.x, before.x, now.x, 0), follow(pos.y, size.y, before.y, now.y, top)));
}

void checkVk(VkResult r) {
    if (r != VK_SUCCESS) spdlog::error("ImGui Vulkan backend: VkResult {}", static_cast<int>(r));
}

std::string timestampName() {
    std::time_t t = std::time(nullptr);
    char buf[64];
    std::strftime(buf, sizeof buf, "citytwin-%Y%m%d-%H%M%S.png", std::localtime(&t));
    return buf;
}

// The camera the user steers: orbit about a pivot, pan, zoom to the cursor, keyboard flight,
// and smooth flights to a target camera.
struct CameraControl {
    Camera camera;
    std::optional<Camera> flightTarget;
    Vec3 pivot{0, 0, 0};

    void orbit(double dxPx, double dyPx) {
        double distance = std::max(1.0, (camera.eye - pivot).norm());
        camera.yawDeg = std::fmod(camera.yawDeg + dxPx * 0.25 + 360, 360);
        camera.pitchDeg = std::clamp(camera.pitchDeg - dyPx * 0.25, -89.0, 10.0);
        camera.eye = pivot - camera.forward() * distance;
    }
    void pan(double dxPx, double dyPx, double viewportHeight) {
        double distance = std::max(1.0, (camera.eye - pivot).norm());
        double metresPerPx = 2 * distance * std::tan(camera.fovYDeg * M_PI / 360) / viewportHeight;
        Vec3 f = camera.forward();
        Vec3 ahead = Vec3(f.x(), f.y(), 0).normalized();
        Vec3 shift = (-camera.right() * dxPx + ahead * dyPx) * metresPerPx;
        camera.eye += shift;
        pivot += shift;
    }
    void zoomTowards(const Vec3& point, double notches) {
        Vec3 d = point - camera.eye;
        double dist = d.norm();
        double step = 1 - std::pow(0.85, notches); // 15 % of the distance per notch
        double move = std::min(dist * step, dist - 2.0);
        if (notches < 0) move = dist * step; // negative: backwards
        camera.eye += d.normalized() * move;
    }
    void update(double dt) {
        if (!flightTarget) return;
        double k = 1 - std::exp(-dt * 5);
        camera.eye += (flightTarget->eye - camera.eye) * k;
        double dyaw = std::remainder(flightTarget->yawDeg - camera.yawDeg, 360.0);
        camera.yawDeg += dyaw * k;
        camera.pitchDeg += (flightTarget->pitchDeg - camera.pitchDeg) * k;
        if ((flightTarget->eye - camera.eye).norm() < 0.05 && std::abs(dyaw) < 0.05) {
            camera = *flightTarget;
            flightTarget.reset();
        }
    }
};

class Viewer {
public:
    Viewer(CityScene scene, const ViewerOptions& options) : scene_(std::move(scene)), options_(options) {}
    int run();

private:
    void initWindow();
    void initImGui();
    void shutdownImGui();
    void loadCity();
    void drawUi(const render::FrameStats& stats, double frameMs);
    // ImGui::Begin for a panel, which also follows window resizes (followWindowResize) and
    // notes where the panel is, for the counted runs' log.
    bool beginPanel(const std::string& title, bool* open);
    ImVec2 panelsLaidOutFor_{0, 0}; // the window size the panels were last placed for
    std::map<std::string, ImVec2> panelPos_; // and where each was then, by title
    std::vector<std::string> panelPlaces_; // this frame's: "title x y width height"
    void drawInspector();
    void drawLegend(const render::ColorScale& scale);
    void handleInput(double dt);
    std::optional<PickHit> pickAt(double x, double y);
    void recreateSwapchain();
    void saveScreenshot(uint32_t imageIndex, const fs::path& file, VkCommandBuffer cmd);
    void writePendingScreenshot();
    void applyBuildingColors();
    void applyRoadColors();
    void showResults(std::optional<double> simTimeS);
    // Presentation mode: full screen, no panels, the tour on the keys a clicker sends.
    void setPresenting(bool on);
    void presentationKeys();
    void nextStop();
    void previousStop();
    std::optional<TourFrame> advanceTour(double dt);
    render::Hud overlayFor(const std::optional<TourFrame>& frame, std::optional<double> simTimeS, int width, int height);
    void drawPresentationMenu();
    // Runs `citytwin <command> args...` in the background; the menu bar shows its progress.
    void startExport(const std::string& command, const std::vector<std::string>& args, const fs::path& out, bool video);

    CityScene scene_;
    ViewerOptions options_;
    GLFWwindow* window_ = nullptr;
    std::unique_ptr<render::VulkanContext> ctx_;
    std::unique_ptr<render::Renderer> renderer_;
    std::unique_ptr<render::Swapchain> swapchain_;
    std::unique_ptr<PickWorld> picker_;
    VkDescriptorPool imguiPool_ = VK_NULL_HANDLE;
    VkCommandBuffer cmds_[kFrames]{};
    VkFence fences_[kFrames]{};
    VkSemaphore imageAvailable_[kFrames]{};
    std::vector<VkSemaphore> renderFinished_;
    bool resized_ = false;
    bool vsync_ = true;

    CameraControl control_;
    render::RenderSettings settings_;
    std::optional<PickHit> selected_;
    std::optional<render::GridOverlay> grid_;
    // Results replay, split view, difference layer.
    std::unique_ptr<Presenter> presenter_;
    bool resultsShown_ = false, shownSplit_ = false;
    std::optional<double> shownSimTime_;
    ResultLayer layer_ = ResultLayer::Depth, shownLayer_ = ResultLayer::Depth;
    bool split_ = false, draggingDivider_ = false;
    float splitFraction_ = 0.5f;
    // Presentation mode and the tour.
    bool presenting_ = false, tourPlaying_ = false;
    double tourTime_ = 0, presentingSince_ = 0;
    std::optional<double> tourPauseAt_;
    int windowedX_ = 0, windowedY_ = 0, windowedW_ = 0, windowedH_ = 0;
    // A video or still written by a `citytwin render-tour`/`render` child process.
    std::thread exportThread_;
    std::mutex exportMutex_;
    std::string exportStatus_; // guarded by exportMutex_
    std::atomic<bool> exportRunning_{false};
    int buildingColor_ = 0, roadColor_ = 0;
    // A run's per-building results and load curves (energy), when it has them.
    BuildingResults buildingResults_, variantBuildingResults_;
    LoadCurves loadCurves_;
    bool showLoadCurve_ = true;
    void loadRunResults();
    void drawLoadCurve();
    // Live sensors of the scenario's feed store, refreshed every few seconds (a `citytwin
    // feeds` process may be writing it meanwhile).
    void refreshSensors();
    double lastSensorRefresh_ = -1e9;
    // Live feeds (docs/plugins.md, "The viewer"): the scenario's feeds run here with --feeds
    // (or the Feeds panel's Start); the panel shows their status, or a recorded store's sensors;
    // a click on a sensor marker opens its history.
    fs::path sensorStoreFile() const;
    void startFeeds();
    void stopFeeds();
    void drawFeeds();
    void drawSensor();
    void openSensor(const std::string& id);
    std::unique_ptr<feeds::SensorStore> feedStore_; // before feedHost_: the host goes first
    std::unique_ptr<feeds::FeedHost> feedHost_;
    std::vector<SensorMarker> sensorMarkers_; // what the renderer draws, with sensor ids
    bool showFeeds_ = true;
    double lastFeedsRefresh_ = -1e9;
    std::vector<FeedRow> feedRows_;
    std::vector<RecordedSensor> recorded_;
    std::string feedsError_;
    std::string selectedSensor_;
    bool showSensor_ = false;
    int historyWindow_ = int(HistoryWindow::Last24h);
    std::optional<feeds::SensorInfo> sensorInfo_;
    std::optional<feeds::TimeValue> sensorLatest_;
    SensorHistory history_;
    double lastHistoryRefresh_ = -1e9;
    std::string sensorStatus_;
    std::optional<render::ColorScale> buildingScale_, roadScale_;
    // Traffic of a mobility run: live from the session's snapshots, or replayed from the
    // run's edges.csv (roads by speed ratio, the clicked road's time series) and fcd.csv
    // (vehicles). traffic_ is the city's traffic network (a city-network run only).
    std::unique_ptr<CityTraffic> traffic_;
    TrafficResults trafficResults_, variantTrafficResults_;
    VehicleTracks vehicleTracks_;
    std::optional<render::ValueOverlay> liveRoadValues_; // latest snapshot's road colours
    int trafficInterval_ = -2;                          // replay: interval the roads show
    double vehiclesShownAt_ = -1;
    bool showRoadSeries_ = true;
    bool trafficAvailable() const { return !trafficResults_.empty() || (session_ && traffic_); }
    // Traffic detector counts of the sensor store on the city's roads, each detector's newest,
    // read again with the sensor markers (a `citytwin feeds` beside the viewer shows up live).
    std::unique_ptr<CityTraffic> countTraffic_; // the city's traffic network, built when first needed
    RoadCounts roadCounts_;
    bool countsAvailable_ = false; // the scene has a sensor store
    void readCounts();
    void loadTrafficResults();
    void showTraffic();
    void drawRoadSeries();
    double simOffsetS_ = 0;
    bool playing_ = false;
    float playSpeed_ = 60;
    bool showLayers_ = true, showLegend_ = true, showInspector_ = true, showTime_ = true, showStats_ = true;
    bool openScenarioPopup_ = false;
    char openPath_[512] = {};
    char placeQuery_[128] = {};
    std::vector<std::string> places_; // named buildings, for the Places menu
    std::string status_;
    fs::path screenshotRequest_;
    render::Buffer screenshotBuffer_;
    fs::path pendingScreenshot_;

    // Live simulation: a worker thread advances the session towards liveTarget_; the UI shows
    // the latest snapshot it published.
    std::unique_ptr<SimulationSession> session_;
    std::thread worker_;
    std::atomic<bool> stopWorker_{false};
    std::atomic<double> liveTarget_{0}, liveTime_{0};
    std::mutex liveMutex_;
    std::vector<SnapshotGrid> liveGrids_; // guarded by liveMutex_
    struct LiveTraffic {
        std::vector<render::Agent> agents;
        render::ValueOverlay roads;
    };
    std::optional<LiveTraffic> liveTraffic_; // guarded by liveMutex_; taken by showLive
    double liveShownS_ = -1;
    std::string liveError_;               // guarded by liveMutex_
    void startLive();
    void stopLive();
    void showLive();

    // Mouse state for drags and clicks.
    double pressX_ = 0, pressY_ = 0, lastX_ = 0, lastY_ = 0;
    int dragButton_ = -1;
    bool dragged_ = false;
    double scrollAccum_ = 0;
    double lastClickTime_ = -1;
    friend void onScroll(GLFWwindow*, double, double);
};

void onScroll(GLFWwindow* w, double dx, double dy) {
    ImGui_ImplGlfw_ScrollCallback(w, dx, dy);
    if (ImGui::GetIO().WantCaptureMouse) return;
    static_cast<Viewer*>(glfwGetWindowUserPointer(w))->scrollAccum_ += dy;
}

void Viewer::initWindow() {
    glfwSetErrorCallback([](int code, const char* text) { spdlog::debug("GLFW error {}: {}", code, text); });
    if (!glfwInit())
        throw InputError("cannot open a window: no display", "citytwin view",
                         "run it on a desktop, set DISPLAY, or use xvfb-run -a; for pictures without a display use citytwin render");
    if (!glfwVulkanSupported()) throw InputError("GLFW finds no Vulkan loader", "citytwin view", "install libvulkan1 and mesa-vulkan-drivers");
    glfwWindowHint(GLFW_CLIENT_API, GLFW_NO_API);
    std::string title = fmt::format("citytwin — {}", scene_.scenario.name);
    window_ = glfwCreateWindow(int(options_.width), int(options_.height), title.c_str(), nullptr, nullptr);
    if (!window_) throw InputError("could not create a window", "citytwin view", "check DISPLAY, or use xvfb-run -a");
    glfwSetWindowUserPointer(window_, this);
    glfwSetFramebufferSizeCallback(window_, [](GLFWwindow* w, int, int) { static_cast<Viewer*>(glfwGetWindowUserPointer(w))->resized_ = true; });

    render::ContextOptions co;
    co.validation = options_.validation;
    co.device = options_.gpu;
    uint32_t n = 0;
    const char** ext = glfwGetRequiredInstanceExtensions(&n);
    for (uint32_t i = 0; i < n; ++i) co.instanceExtensions.emplace_back(ext[i]);
    co.makeSurface = [this](VkInstance instance) {
        VkSurfaceKHR surface;
        render::vkCheck(glfwCreateWindowSurface(instance, window_, nullptr, &surface), "glfwCreateWindowSurface");
        return surface;
    };
    ctx_ = std::make_unique<render::VulkanContext>(co);
    VkSurfaceFormatKHR format = render::Swapchain::chooseFormat(*ctx_);
    renderer_ = std::make_unique<render::Renderer>(*ctx_, format.format, VK_IMAGE_LAYOUT_PRESENT_SRC_KHR);
    int w, h;
    glfwGetFramebufferSize(window_, &w, &h);
    swapchain_ = std::make_unique<render::Swapchain>(*ctx_, renderer_->renderPass(), format.format, VkExtent2D{uint32_t(w), uint32_t(h)}, vsync_);

    VkDevice d = ctx_->device();
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = ctx_->commandPool();
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = kFrames;
    render::vkCheck(vkAllocateCommandBuffers(d, &ai, cmds_), "vkAllocateCommandBuffers");
    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    fi.flags = VK_FENCE_CREATE_SIGNALED_BIT;
    VkSemaphoreCreateInfo si{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
    for (int i = 0; i < kFrames; ++i) {
        render::vkCheck(vkCreateFence(d, &fi, nullptr, &fences_[i]), "vkCreateFence");
        render::vkCheck(vkCreateSemaphore(d, &si, nullptr, &imageAvailable_[i]), "vkCreateSemaphore");
    }
    recreateSwapchain();
}

void Viewer::recreateSwapchain() {
    int w = 0, h = 0;
    glfwGetFramebufferSize(window_, &w, &h);
    if (w == 0 || h == 0) return;
    swapchain_->recreate({uint32_t(w), uint32_t(h)}, vsync_);
    VkDevice d = ctx_->device();
    for (auto s : renderFinished_) vkDestroySemaphore(d, s, nullptr);
    renderFinished_.assign(swapchain_->imageCount(), VK_NULL_HANDLE);
    VkSemaphoreCreateInfo si{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
    for (auto& s : renderFinished_) render::vkCheck(vkCreateSemaphore(d, &si, nullptr, &s), "vkCreateSemaphore");
    if (ImGui::GetCurrentContext()) ImGui_ImplVulkan_SetMinImageCount(std::max(2u, swapchain_->imageCount()));
    resized_ = false;
}

void Viewer::initImGui() {
    VkDescriptorPoolSize sizes[] = {{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 16}};
    VkDescriptorPoolCreateInfo pi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    pi.flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT;
    pi.maxSets = 16;
    pi.poolSizeCount = 1;
    pi.pPoolSizes = sizes;
    render::vkCheck(vkCreateDescriptorPool(ctx_->device(), &pi, nullptr, &imguiPool_), "vkCreateDescriptorPool (ImGui)");
    IMGUI_CHECKVERSION();
    ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.IniFilename = nullptr; // no imgui.ini littering the working folder
    ImGui::StyleColorsDark();
    ImGui::GetStyle().WindowRounding = 4;
    // DejaVu for umlauts (ä ö ü ß) and typographic dashes and quotes; ImGui's own font otherwise.
    static const ImWchar ranges[] = {0x0020, 0x00FF, 0x2010, 0x2027, 0x20AC, 0x20AC, 0};
    for (const char* font : {"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf"})
        if (fs::exists(font)) {
            io.Fonts->AddFontFromFileTTF(font, 16.0f, nullptr, ranges);
            break;
        }
    ImGui_ImplGlfw_InitForVulkan(window_, true);
    glfwSetScrollCallback(window_, onScroll); // after ImGui's, which it forwards to
    ImGui_ImplVulkan_InitInfo ii{};
    ii.Instance = ctx_->instance();
    ii.PhysicalDevice = ctx_->physicalDevice();
    ii.Device = ctx_->device();
    ii.QueueFamily = ctx_->queueFamily();
    ii.Queue = ctx_->queue();
    ii.DescriptorPool = imguiPool_;
    ii.MinImageCount = std::max(2u, swapchain_->imageCount());
    ii.ImageCount = std::max(2u, swapchain_->imageCount());
    ii.MSAASamples = VK_SAMPLE_COUNT_1_BIT;
    ii.CheckVkResultFn = checkVk;
    ImGui_ImplVulkan_Init(&ii, renderer_->renderPass());
    ctx_->submitNow([](VkCommandBuffer cmd) { ImGui_ImplVulkan_CreateFontsTexture(cmd); });
    ImGui_ImplVulkan_DestroyFontUploadObjects();
}

void Viewer::shutdownImGui() {
    vkDeviceWaitIdle(ctx_->device());
    ImGui_ImplVulkan_Shutdown();
    ImGui_ImplGlfw_Shutdown();
    ImGui::DestroyContext();
    vkDestroyDescriptorPool(ctx_->device(), imguiPool_, nullptr);
}

void Viewer::loadCity() {
    renderer_->setCity(scene_.mesh, scene_.latDeg, scene_.lonDeg);
    places_.clear();
    for (size_t i = 0; i < scene_.city.buildings.size() && places_.size() < 40; ++i)
        if (!scene_.city.buildings.name[i].empty()) places_.push_back(scene_.city.buildings.name[i]);
    std::sort(places_.begin(), places_.end());
    places_.erase(std::unique(places_.begin(), places_.end()), places_.end());
    picker_ = std::make_unique<PickWorld>(scene_.mesh);
    settings_.time = scene_.scenario.start;
    simOffsetS_ = 0;
    selected_.reset();
    showSensor_ = false; // another scenario's store: markers and panel reload
    selectedSensor_.clear();
    sensorMarkers_.clear();
    countTraffic_.reset();
    roadCounts_ = {};
    countsAvailable_ = false;
    lastSensorRefresh_ = lastFeedsRefresh_ = -1e9;
    resultsShown_ = false;
    renderer_->setGrid(grid_ ? &*grid_ : nullptr);
    buildingColor_ = roadColor_ = 0;
    applyBuildingColors();
    applyRoadColors();
    int w, h;
    glfwGetFramebufferSize(window_, &w, &h);
    control_.camera = overviewCamera(scene_, double(std::max(w, 1)) / std::max(h, 1));
    Vec3 lo(scene_.mesh.boundsMin[0], scene_.mesh.boundsMin[1], scene_.mesh.boundsMin[2]);
    Vec3 hi(scene_.mesh.boundsMax[0], scene_.mesh.boundsMax[1], scene_.mesh.boundsMax[2]);
    control_.pivot = (lo + hi) / 2;
}

void Viewer::applyBuildingColors() {
    buildingScale_.reset();
    renderer_->setBuildingValues(nullptr, render::Side::Right);
    if (buildingColor_ == 0) {
        renderer_->setBuildingValues(nullptr);
        return;
    }
    int builtin = int(IM_ARRAYSIZE(buildingColorChoices));
    if (buildingColor_ < builtin) {
        render::ValueOverlay v = buildingValues(scene_.city, buildingColorChoices[buildingColor_]);
        renderer_->setBuildingValues(&v);
        buildingScale_ = v.scale;
        return;
    }
    // A result of the run: the baseline's on the left, the variant's on the right of a split.
    const std::string& field = buildingResults_.fields[size_t(buildingColor_ - builtin)];
    render::ValueOverlay v = buildingResultValues(buildingResults_, field);
    renderer_->setBuildingValues(&v);
    buildingScale_ = v.scale;
    if (!variantBuildingResults_.fields.empty()) {
        render::ValueOverlay w = buildingResultValues(variantBuildingResults_, field);
        w.scale = v.scale;
        renderer_->setBuildingValues(&w, render::Side::Right);
    }
}

void Viewer::loadRunResults() {
    buildingResults_ = {};
    variantBuildingResults_ = {};
    loadCurves_ = {};
    if (options_.results.empty()) return;
    try {
        buildingResults_ = readBuildingResults(options_.results, scene_.city);
        variantBuildingResults_ = readBuildingResults(options_.results, scene_.city, true);
        loadCurves_ = readLoadCurves(options_.results);
    } catch (const std::exception& e) { // unreadable results must not end the session
        status_ = e.what();
    }
}

fs::path Viewer::sensorStoreFile() const {
    if (feedStore_) return feedStore_->path();
    if (!options_.results.empty()) return options_.results / "feeds" / "sensors.sqlite";
    return scene_.scenario.outputDir / "feeds" / "sensors.sqlite";
}

void Viewer::refreshSensors() {
    double now = glfwGetTime();
    if (now - lastSensorRefresh_ < 2) return;
    lastSensorRefresh_ = now;
    try {
        sensorMarkers_ = sensorMarkersWithIds(sensorStoreFile(), scene_.city);
        std::vector<render::Marker> markers;
        for (auto& m : sensorMarkers_) markers.push_back(m.marker);
        renderer_->setMarkers(markers);
    } catch (const std::exception& e) { // a store being rebuilt must not end the session
        status_ = e.what();
    }
    countsAvailable_ = fs::exists(sensorStoreFile());
    if (roadColor_ == kRoadByCounts) { // (an open detector's window reads them itself)
        readCounts();
        applyRoadColors();
    }
}

void Viewer::readCounts() {
    try {
        if (!countTraffic_) countTraffic_ = std::make_unique<CityTraffic>(scene_.city);
        roadCounts_ = countedRoads(sensorStoreFile(), *countTraffic_, scene_.city);
    } catch (const std::exception& e) { // a store being rebuilt must not end the session
        status_ = e.what();
    }
}

void Viewer::startFeeds() {
    if (feedHost_ || scene_.scenario.feeds.empty()) return;
    try {
        fs::path file = scene_.scenario.outputDir / "feeds" / "sensors.sqlite"; // as `citytwin feeds` writes
        fs::create_directories(file.parent_path());
        feedStore_ = std::make_unique<feeds::SensorStore>(file);
        feedHost_ = std::make_unique<feeds::FeedHost>(*feedStore_);
        std::string errors;
        for (const FeedBlock& f : scene_.scenario.feeds) {
            try {
                feedHost_->addFeed({f.name, f.plugin, feedConfigJsonFor(f, scene_.scenario)});
            } catch (const std::exception& e) { // one feed that cannot load does not stop the others
                errors += fmt::format("{}{}: {}", errors.empty() ? "" : "; ", f.name, e.what());
            }
        }
        feedHost_->startPump();
        feedsError_ = errors;
        lastFeedsRefresh_ = lastSensorRefresh_ = -1e9;
    } catch (const std::exception& e) {
        feedHost_.reset();
        feedStore_.reset();
        feedsError_ = e.what();
    }
}

void Viewer::stopFeeds() {
    if (!feedHost_) return;
    feedHost_->stopAll();
    feedHost_->flush();
    feedHost_->stopPump();
}

void Viewer::openSensor(const std::string& id) {
    selectedSensor_ = id;
    showSensor_ = true;
    lastHistoryRefresh_ = -1e9;
    sensorStatus_.clear();
}

namespace {

// A feed state as the Feeds panel shows it.
const char* feedStateText(const std::string& state) {
    if (state == "starting") return tr("starting");
    if (state == "connected") return tr("connected");
    if (state == "reconnecting") return tr("reconnecting");
    if (state == "error") return tr("error");
    if (state == "stopped") return tr("stopped");
    return state.c_str();
}

const char* historyWindowChoices[] = {"last 6 h", "last 24 h", "last 7 d", "all"};

double wallClockS() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string sensorValue(double v, const std::string& unit, int decimals = -1) {
    if (decimals < 0) decimals = std::abs(v) < 10 ? 2 : 1;
    return std::isnan(v) ? std::string("-") : formatQuantity(v, unit == "1" ? "" : unit, decimals);
}

// Enough decimals that a history's minimum and maximum read apart (a well moving by 8 cm).
int rangeDecimals(double min, double max) {
    double span = max - min;
    if (!(span > 0)) return std::abs(max) < 10 ? 2 : 1;
    return std::clamp(int(std::ceil(-std::log10(span))) + 1, std::abs(max) < 10 ? 2 : 1, 4);
}

} // namespace

void Viewer::drawFeeds() {
    double now = glfwGetTime();
    fs::path store = sensorStoreFile();
    if (now - lastFeedsRefresh_ >= 1) { // the status every second
        lastFeedsRefresh_ = now;
        feedRows_.clear();
        recorded_.clear();
        if (feedHost_) {
            for (const auto& f : feedHost_->status()) feedRows_.push_back(feedRow(f, wallClockS()));
        } else if (fs::exists(store)) {
            try {
                feeds::SensorStore s(store);
                recorded_ = recordedSensors(s);
            } catch (const std::exception& e) {
                feedsError_ = e.what();
            }
        }
    }
    if (!showFeeds_ || (!feedHost_ && recorded_.empty() && scene_.scenario.feeds.empty())) return;
    ImGuiIO& io = ImGui::GetIO();
    ImGui::SetNextWindowPos(ImVec2(io.DisplaySize.x - 740, io.DisplaySize.y - 300), ImGuiCond_FirstUseEver);
    ImGui::SetNextWindowSize(ImVec2(720, 240), ImGuiCond_FirstUseEver);
    if (beginPanel(windowTitle("Feeds"), &showFeeds_)) {
        if (feedHost_) {
            const char* heads[] = {tr("Feed"), tr("Plugin"), tr("State"), tr("msg/s"), tr("published"), tr("stored"),
                                   tr("duplicates"), tr("dropped"), tr("rejected"), tr("last message"), tr("detail")};
            if (ImGui::BeginTable("feeds", 11, ImGuiTableFlags_RowBg | ImGuiTableFlags_Borders | ImGuiTableFlags_Resizable | ImGuiTableFlags_ScrollX)) {
                for (const char* h : heads) ImGui::TableSetupColumn(h);
                ImGui::TableHeadersRow();
                for (const FeedRow& r : feedRows_) {
                    ImGui::TableNextRow();
                    auto cell = [](const std::string& text) {
                        ImGui::TableNextColumn();
                        ImGui::TextUnformatted(text.c_str());
                    };
                    cell(r.name);
                    cell(r.plugin);
                    ImGui::TableNextColumn();
                    ImVec4 colour = r.state == "connected"      ? ImVec4(0.4f, 0.9f, 0.4f, 1)
                                    : r.state == "error"        ? ImVec4(1.0f, 0.4f, 0.4f, 1)
                                    : r.state == "reconnecting" ? ImVec4(1.0f, 0.75f, 0.2f, 1)
                                                                : ImVec4(0.7f, 0.7f, 0.7f, 1);
                    ImGui::TextColored(colour, "%s", feedStateText(r.state));
                    cell(r.messagesPerS);
                    for (uint64_t n : {r.published, r.stored, r.duplicates, r.dropped, r.rejected}) cell(std::to_string(n));
                    cell(r.last);
                    cell(r.detail);
                }
                ImGui::EndTable();
            }
            if (feedRows_.empty()) ImGui::TextDisabled("%s", tr("no feed could be started"));
        } else {
            if (!scene_.scenario.feeds.empty() && ImGui::Button(tr("Start feeds"))) startFeeds();
            if (!recorded_.empty()) {
                ImGui::TextDisabled("%s: %s", tr("recorded"), store.string().c_str());
                if (ImGui::BeginTable("recorded", 4, ImGuiTableFlags_RowBg | ImGuiTableFlags_Borders | ImGuiTableFlags_Resizable)) {
                    ImGui::TableSetupColumn(tr("Sensor"));
                    ImGui::TableSetupColumn(tr("latest value"));
                    ImGui::TableSetupColumn(tr("time"));
                    ImGui::TableSetupColumn(tr("State"));
                    ImGui::TableHeadersRow();
                    for (const RecordedSensor& r : recorded_) {
                        ImGui::TableNextRow();
                        ImGui::TableNextColumn();
                        std::string name = r.info.name.empty() ? r.info.id : r.info.name;
                        if (ImGui::Selectable(fmt::format("{}##{}", name, r.info.id).c_str(), selectedSensor_ == r.info.id && showSensor_))
                            openSensor(r.info.id);
                        ImGui::TableNextColumn();
                        ImGui::TextUnformatted(r.latest ? sensorValue(r.latest->value, r.info.unit).c_str() : "-");
                        ImGui::TableNextColumn();
                        ImGui::TextUnformatted(r.latest ? feeds::isoTime(r.latest->time).c_str() : "-");
                        ImGui::TableNextColumn();
                        ImGui::TextDisabled("%s", tr("recorded"));
                    }
                    ImGui::EndTable();
                }
            } else {
                ImGui::TextWrapped("%s", tr("No live feeds running and no recorded sensors."));
            }
        }
        if (!feedsError_.empty()) ImGui::TextWrapped("%s", feedsError_.c_str());
    }
    ImGui::End();
}

void Viewer::drawSensor() {
    if (!showSensor_ || selectedSensor_.empty()) return;
    fs::path store = sensorStoreFile();
    double now = glfwGetTime();
    if (now - lastHistoryRefresh_ >= 2) { // new observations arrive while it is open
        lastHistoryRefresh_ = now;
        try {
            if (fs::exists(store)) {
                feeds::SensorStore s(store);
                sensorInfo_ = s.sensor(selectedSensor_);
                sensorLatest_ = s.latest(selectedSensor_);
                history_ = sensorHistory(s, selectedSensor_, HistoryWindow(historyWindow_));
                // A detector: where it counts (the roads' refresh reads them when they show counts).
                if (sensorInfo_ && sensorInfo_->quantity == "traffic_count" && roadColor_ != kRoadByCounts) readCounts();
            }
        } catch (const std::exception& e) {
            sensorStatus_ = e.what();
        }
    }
    std::string name = sensorInfo_ && !sensorInfo_->name.empty() ? sensorInfo_->name : selectedSensor_;
    std::string title = fmt::format("{} {}###Sensor", tr("Sensor"), name);
    ImGui::SetNextWindowSize(ImVec2(480, 540), ImGuiCond_FirstUseEver);
    if (beginPanel(title, &showSensor_)) {
        auto row = [](const char* key, const std::string& value) {
            ImGui::TableNextRow();
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(key);
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(value.c_str());
        };
        const feeds::SensorInfo info = sensorInfo_.value_or(feeds::SensorInfo{selectedSensor_});
        if (ImGui::BeginTable("sensor", 2, ImGuiTableFlags_RowBg | ImGuiTableFlags_Borders)) {
            row(tr("id"), info.id);
            row(tr("Feed"), info.feed.empty() ? "-" : info.feed);
            row(tr("quantity"), info.quantity.empty() ? "-" : info.quantity);
            row(tr("unit"), info.unit.empty() ? "-" : info.unit);
            row(tr("location"), std::isnan(info.lat) ? std::string("-")
                                                     : fmt::format("{:.6f}° N, {:.6f}° E{}", info.lat, info.lon,
                                                                   std::isnan(info.elevationM) ? "" : ", " + formatQuantity(info.elevationM, "m", 1)));
            row(tr("warning above"), sensorValue(info.warnAbove, info.unit));
            row(tr("alarm above"), sensorValue(info.alarmAbove, info.unit));
            row(tr("latest value"), sensorLatest_ ? sensorValue(sensorLatest_->value, info.unit) : "-");
            row(tr("time"), sensorLatest_ ? fmt::format("{} ({})", feeds::isoTime(sensorLatest_->time), messageAge(sensorLatest_->time, wallClockS()))
                                          : "-");
            if (info.quantity == "traffic_count") { // a detector: where it counts, and its newest count
                auto counted = std::find_if(roadCounts_.roads.begin(), roadCounts_.roads.end(),
                                            [&](const CountedRoad& r) { return r.sensor == info.id; });
                if (counted != roadCounts_.roads.end()) {
                    row(tr("counts on"), fmt::format("{}, {} {}, {}", counted->name.empty() ? "-" : counted->name, tr("edge"),
                                                     counted->edgeId, directionWord(counted->headingDeg)));
                    Instant begin{int64_t(std::llround(counted->beginUtc)), scene_.scenario.start.offsetMinutes};
                    row(tr("Counted flow"), fmt::format("{} ({} + {} min)", formatQuantity(counted->flowVehH, "veh/h", 0),
                                                        formatDateTime(begin), formatNumber((counted->endUtc - counted->beginUtc) / 60, 0)));
                } else {
                    // Why it is not on the roads: the reason placing it gave, if any.
                    auto why = std::find_if(roadCounts_.skipped.begin(), roadCounts_.skipped.end(),
                                            [&](const std::string& s) { return s.find("'" + info.id + "'") != std::string::npos; });
                    row(tr("counts on"), why != roadCounts_.skipped.end() ? fmt::format("{} ({})", tr("not on a road"), *why)
                                                                          : std::string(tr("no count yet")));
                }
            }
            ImGui::EndTable();
        }
        auto choices = translated(historyWindowChoices);
        ImGui::SetNextItemWidth(160);
        if (ImGui::Combo(tr("history"), &historyWindow_, choices.data(), int(choices.size()))) lastHistoryRefresh_ = -1e9;
        if (history_.values.empty()) {
            ImGui::TextDisabled("%s", tr("no observations in this window"));
        } else {
            ImGui::TextUnformatted(fmt::format("{}: {}", tr("max"), sensorValue(history_.max, info.unit, rangeDecimals(history_.min, history_.max))).c_str());
            // ImGui 1.86 ignores a width of -1 in PlotLines: the explicit width of the window.
            float width = std::max(100.0f, ImGui::GetContentRegionAvail().x);
            ImGui::PlotLines("##history", history_.values.data(), int(history_.values.size()), 0, nullptr, float(history_.min),
                             float(history_.max), ImVec2(width, 140));
            ImGui::TextUnformatted(fmt::format("{}: {}", tr("min"), sensorValue(history_.min, info.unit, rangeDecimals(history_.min, history_.max))).c_str());
            ImGui::TextDisabled("%s – %s, %s", feeds::isoTime(history_.observations.front().phenomenonTime).c_str(),
                                feeds::isoTime(history_.observations.back().phenomenonTime).c_str(),
                                fmt::format(fmt::runtime(tr("{} observations")), history_.observations.size()).c_str());
            if (!std::isnan(info.warnAbove) || !std::isnan(info.alarmAbove))
                ImGui::TextUnformatted(fmt::format("{}: {}   {}: {}", tr("warning above"), sensorValue(info.warnAbove, info.unit),
                                                   tr("alarm above"), sensorValue(info.alarmAbove, info.unit)).c_str());
            if (ImGui::Button(tr("Export CSV"))) {
                try {
                    feeds::SensorStore s(store);
                    fs::path csv = historyCsvPath(store, selectedSensor_);
                    size_t rows = s.exportCsv(csv, selectedSensor_, history_.from, history_.to);
                    sensorStatus_ = fmt::format(fmt::runtime(tr("wrote {} rows to {}")), rows, csv.string());
                } catch (const std::exception& e) {
                    sensorStatus_ = fmt::format(fmt::runtime(tr("export failed: {}")), e.what());
                }
            }
        }
        if (!sensorStatus_.empty()) ImGui::TextWrapped("%s", sensorStatus_.c_str());
    }
    ImGui::End();
}

namespace {
} // namespace

void Viewer::drawLoadCurve() {
    if (loadCurves_.empty() || !showLoadCurve_) return;
    ImGuiIO& io = ImGui::GetIO();
    ImGui::SetNextWindowPos(ImVec2(io.DisplaySize.x / 2 - 260, 30), ImGuiCond_FirstUseEver);
    ImGui::SetNextWindowSize(ImVec2(520, 0), ImGuiCond_FirstUseEver);
    if (beginPanel(windowTitle("Load curve"), &showLoadCurve_)) {
        const auto& net = loadCurves_.net;
        int now = std::clamp(int(simOffsetS_ / 3600), 0, int(net.size()) - 1);
        // The week around the current hour, then the year as daily peaks.
        int from = std::clamp(now - 84, 0, std::max(0, int(net.size()) - 168));
        int count = std::min(168, int(net.size()) - from);
        float lo = *std::min_element(net.begin(), net.end()), hi = *std::max_element(net.begin(), net.end());
        ImGui::TextUnformatted(fmt::format("{} [kW], {}", tr("net load"), tr("this week")).c_str());
        ImGui::PlotLines("##week", net.data() + from, count, 0, nullptr, lo, hi, ImVec2(ImGui::GetContentRegionAvail().x, 70));
        std::vector<float> daily;
        for (size_t d = 0; d * 24 < net.size(); ++d)
            daily.push_back(*std::max_element(net.begin() + long(d * 24), net.begin() + long(std::min(net.size(), d * 24 + 24))));
        ImGui::TextUnformatted(fmt::format("{} [kW], {}", tr("net load"), tr("the year")).c_str());
        ImGui::PlotLines("##year", daily.data(), int(daily.size()), 0, nullptr, lo, hi, ImVec2(ImGui::GetContentRegionAvail().x, 50));
        ImGui::TextUnformatted(fmt::format("{}: {}   {}: {}   {}: {}   PV: {}   {}: {}", tr("households"),
                                           formatQuantity(loadCurves_.base[size_t(now)], "kW", 0), tr("heat pumps"),
                                           formatQuantity(loadCurves_.heatPump[size_t(now)], "kW", 0), tr("electric cars"),
                                           formatQuantity(loadCurves_.ev[size_t(now)], "kW", 0),
                                           formatQuantity(loadCurves_.pv[size_t(now)], "kW", 0), tr("net load"),
                                           formatQuantity(net[size_t(now)], "kW", 0))
                                   .c_str());
    }
    ImGui::End();
}

void Viewer::applyRoadColors() {
    roadScale_.reset();
    renderer_->setRoadValues(nullptr, render::Side::Right);
    if (roadColor_ == 0) {
        renderer_->setRoadValues(nullptr);
        return;
    }
    if (roadColor_ == kRoadByCounts) {
        if (!countTraffic_) readCounts(); // just chosen: later the sensor refresh reads them
        if (!countTraffic_) return;
        render::ValueOverlay v = countedRoadValues(roadCounts_.roads, *countTraffic_);
        renderer_->setRoadValues(&v);
        roadScale_ = v.scale;
        return;
    }
    if (roadColor_ == kRoadByTraffic) {
        roadScale_ = trafficScale();
        if (session_) { // live: the latest snapshot's
            renderer_->setRoadValues(liveRoadValues_ ? &*liveRoadValues_ : nullptr);
            return;
        }
        // Replay: the interval containing the clock; the variant's on the right of a split.
        render::ValueOverlay v = trafficRoadValues(trafficResults_, scene_.city, simOffsetS_);
        renderer_->setRoadValues(&v);
        if (!variantTrafficResults_.empty()) {
            render::ValueOverlay w = trafficRoadValues(variantTrafficResults_, scene_.city, simOffsetS_);
            renderer_->setRoadValues(&w, render::Side::Right);
        }
        return;
    }
    render::ValueOverlay v = roadValues(scene_.city, roadColorChoices[roadColor_]);
    renderer_->setRoadValues(&v);
    roadScale_ = v.scale;
}

void Viewer::loadTrafficResults() {
    trafficResults_ = {};
    variantTrafficResults_ = {};
    vehicleTracks_ = {};
    trafficInterval_ = -2;
    vehiclesShownAt_ = -1;
    if (session_) return; // a live run draws its own traffic
    traffic_.reset();
    renderer_->setAgents({});
    if (options_.results.empty()) return;
    try {
        trafficResults_ = readTrafficResults(options_.results, scene_.city);
        variantTrafficResults_ = readTrafficResults(options_.results, scene_.city, true);
        // Vehicles only from a run on the city's roads (a SUMO net's x/y are not the city's).
        if (mobilityOnCityNetwork(scene_.scenario) && scene_.city.roads.edgeCount() > 0) {
            vehicleTracks_ = readVehicleTracks(options_.results, scene_.city);
            if (!vehicleTracks_.empty()) traffic_ = std::make_unique<CityTraffic>(scene_.city);
        }
    } catch (const std::exception& e) { // unreadable results must not end the session
        status_ = e.what();
    }
    if (!trafficResults_.empty()) {
        roadColor_ = kRoadByTraffic;
        applyRoadColors();
    }
}

// Replay: the roads when the clock enters another interval, the vehicles when it moves.
void Viewer::showTraffic() {
    if (session_) return;
    if (roadColor_ == kRoadByTraffic && !trafficResults_.empty()) {
        int k = trafficResults_.edges.front().intervalAt(simOffsetS_);
        if (k != trafficInterval_) {
            trafficInterval_ = k;
            applyRoadColors();
        }
    }
    if (traffic_ && !vehicleTracks_.empty() && simOffsetS_ != vehiclesShownAt_) {
        renderer_->setAgents(traffic_->agents(vehicleTracks_.at(simOffsetS_), vehicleTracks_.bicycle));
        vehiclesShownAt_ = simOffsetS_;
    }
}

// The clicked road's traffic over the run from edges.csv: flow, mean speed and density per
// interval, each direction, baseline and (when the run has one) variant.
void Viewer::drawRoadSeries() {
    if (!showRoadSeries_ || trafficResults_.empty() || !selected_ || selected_->layer != MeshLayer::Roads) return;
    const RoadNetwork& roads = scene_.city.roads;
    uint32_t ribbon = selected_->objectId;
    if (ribbon >= roads.edgeCount()) return;
    std::vector<uint32_t> directions{ribbon};
    if (roads.reverse[ribbon].valid()) directions.push_back(roads.reverse[ribbon].value);
    const std::string& name = roads.wayName[roads.way[ribbon]];
    ImGuiIO& io = ImGui::GetIO();
    ImGui::SetNextWindowPos(ImVec2(io.DisplaySize.x - 700, 30), ImGuiCond_FirstUseEver);
    ImGui::SetNextWindowSize(ImVec2(340, 0), ImGuiCond_FirstUseEver);
    std::string title = fmt::format("{} {}###Road series", tr("Road"), name.empty() ? std::to_string(ribbon) : name);
    if (beginPanel(title, &showRoadSeries_)) {
        bool any = false;
        for (uint32_t e : directions) {
            const EdgeSeries* base = trafficResults_.forRoadEdge(e);
            const EdgeSeries* variant = variantTrafficResults_.forRoadEdge(e);
            if (!base && !variant) continue;
            any = true;
            ImGui::Separator();
            ImGui::TextUnformatted(fmt::format("{} {} ({} {})", tr("edge"), e, tr("towards node"), roads.to[e].value).c_str());
            const EdgeSeries& ref = base ? *base : *variant;
            int k = ref.intervalAt(simOffsetS_);
            if (k >= 0)
                ImGui::TextDisabled("%s %s – %s", tr("now:"), formatElapsed(ref.beginS[size_t(k)]).c_str(),
                                    formatElapsed(ref.endS[size_t(k)]).c_str());
            struct Quantity {
                const char* title;
                const char* unit;
                std::vector<float> EdgeSeries::*values;
            };
            static const Quantity quantities[] = {{"Flow", "veh/h", &EdgeSeries::flowVehH},
                                                  {"Mean speed", "km/h", &EdgeSeries::meanSpeedKmh},
                                                  {"Density", "veh/km", &EdgeSeries::densityVehKm}};
            for (const Quantity& q : quantities) {
                // One scale for baseline and variant; intervals nobody drove plot as 0.
                auto series = [&](const EdgeSeries* s) {
                    std::vector<float> v = s ? s->*q.values : std::vector<float>{};
                    for (float& x : v)
                        if (!std::isfinite(x)) x = 0;
                    return v;
                };
                std::vector<float> b = series(base), w = series(variant);
                float hi = 1;
                for (float x : b) hi = std::max(hi, x);
                for (float x : w) hi = std::max(hi, x);
                auto now = [&](const EdgeSeries* s) { // "-": nobody drove (no mean speed)
                    const std::vector<float>* v = s ? &(s->*q.values) : nullptr;
                    return v && k >= 0 && size_t(k) < v->size() && std::isfinite((*v)[size_t(k)]) ? formatNumber((*v)[size_t(k)], 0)
                                                                                                   : std::string("-");
                };
                ImGui::TextUnformatted(fmt::format("{} [{}]: {}", tr(q.title), q.unit,
                                                   variant ? fmt::format("{} {} | {} {}", tr("baseline"), now(base), tr("variant"), now(variant))
                                                           : now(base))
                                           .c_str());
                std::string id = fmt::format("##{}{}", q.unit, e);
                // (ImGui 1.86 takes no -1 "full width" for plots.)
                auto plot = [&](const std::vector<float>& v, const char* suffix, const char* overlay) {
                    if (v.empty()) return;
                    ImGui::PlotLines((id + suffix).c_str(), v.data(), int(v.size()), 0, overlay, 0, hi * 1.05f,
                                     ImVec2(ImGui::GetContentRegionAvail().x, 45));
                    if (k < 0 || v.size() < 2) return;
                    // The clock's interval: a thin line where the plot puts that sample.
                    ImVec2 lo = ImGui::GetItemRectMin(), up = ImGui::GetItemRectMax(), pad = ImGui::GetStyle().FramePadding;
                    float x = lo.x + pad.x + (up.x - lo.x - 2 * pad.x) * float(k) / float(v.size() - 1);
                    ImGui::GetWindowDrawList()->AddLine(ImVec2(x, lo.y + pad.y), ImVec2(x, up.y - pad.y), IM_COL32(255, 200, 60, 200));
                };
                plot(b, "b", variant ? tr("baseline") : nullptr);
                plot(w, "v", tr("variant"));
            }
        }
        if (!any) ImGui::TextWrapped("%s", tr("No vehicle drove on this road during the run."));
    }
    ImGui::End();
}

void Viewer::startLive() {
    int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    // Traffic on the city's roads: vehicles and road colours from the mobility snapshots.
    bool hasMobility = std::any_of(scene_.scenario.modules.begin(), scene_.scenario.modules.end(),
                                   [](const ModuleBlock& m) { return m.name == "mobility"; });
    if (hasMobility && mobilityOnCityNetwork(scene_.scenario) && scene_.city.roads.edgeCount() > 0)
        traffic_ = std::make_unique<CityTraffic>(scene_.city);
    else if (hasMobility)
        status_ = tr("traffic on a SUMO network is not drawn (its coordinates are not the city's)");
    // Leave a core to drawing: on a CPU Vulkan device the frames need it too.
    session_ = std::make_unique<SimulationSession>(scene_.scenario, scene_.city, options_.liveVariant, std::max(1, cores - 1));
    if (session_->empty())
        throw InputError("the scenario has no modules to run live", scene_.scenario.file.string(),
                         "add a module (e.g. flood:) under modules:, or view without --live");
    const double chunk = std::max(1.0, scene_.scenario.durationS / 400);
    worker_ = std::thread([this, chunk] {
        try {
            while (!stopWorker_) {
                double target = liveTarget_.load();
                if (session_->time() + 1e-9 >= target || session_->finished()) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(15));
                    continue;
                }
                session_->advanceTo(std::min(target, session_->time() + chunk));
                std::vector<SnapshotGrid> grids;
                std::optional<LiveTraffic> traffic;
                for (const auto& snap : session_->snapshots()) {
                    for (auto& g : snap->grids()) grids.push_back(std::move(g));
                    // Vehicles and road colours are made here, off the drawing thread.
                    if (auto* m = dynamic_cast<const mobility::MobilitySnapshot*>(snap.get()); m && traffic_)
                        traffic = LiveTraffic{traffic_->agents(m->vehicles), traffic_->roadValues(m->edgeSpeedRatio)};
                }
                std::lock_guard lock(liveMutex_);
                liveGrids_ = std::move(grids);
                if (traffic) liveTraffic_ = std::move(traffic);
                liveTime_ = session_->time();
            }
        } catch (const std::exception& e) { // a failing simulation must not take the viewer down
            std::lock_guard lock(liveMutex_);
            liveError_ = e.what();
        }
    });
}

void Viewer::stopLive() {
    stopWorker_ = true;
    if (worker_.joinable()) worker_.join();
}

void Viewer::showLive() {
    std::vector<SnapshotGrid> grids;
    std::optional<LiveTraffic> traffic;
    {
        std::lock_guard lock(liveMutex_);
        if (!liveError_.empty()) status_ = fmt::format(fmt::runtime(tr("simulation stopped: {}")), liveError_);
        if (liveTime_.load() <= liveShownS_ || (liveGrids_.empty() && !liveTraffic_)) return;
        grids = liveGrids_;
        traffic = std::move(liveTraffic_);
        liveTraffic_.reset();
        liveShownS_ = liveTime_.load();
    }
    if (traffic) {
        spdlog::debug("live traffic at {:.0f} s: {} vehicles", liveShownS_, traffic->agents.size());
        renderer_->setAgents(traffic->agents);
        liveRoadValues_ = std::move(traffic->roads);
        if (roadColor_ == kRoadByTraffic) applyRoadColors();
    }
    if (grids.empty()) return;
    SnapshotGrid& g = grids.front();
    render::GridOverlay o;
    o.width = g.width;
    o.height = g.height;
    o.originX = g.originX;
    o.originY = g.originY;
    o.cellSize = g.cellSize;
    o.values = std::move(g.values);
    bool depth = g.name.find("depth") != std::string::npos || g.name.find("Depth") != std::string::npos;
    // One fixed scale for the whole run, so colours mean the same at every time.
    o.scale = {depth ? render::ColorMap::Water : render::ColorMap::Viridis, 0, depth ? 1.0f : 1.0f, g.name, g.unit};
    o.hideAtOrBelow = depth ? 0.01f : -INFINITY;
    o.opacity = grid_ ? grid_->opacity : 0.8f;
    grid_ = std::move(o);
    renderer_->setGrid(&*grid_);
}

void Viewer::showResults(std::optional<double> simTimeS) {
    if (!presenter_ || !presenter_->hasResults()) {
        // Traffic alone: baseline roads left, the variant's right.
        shownSplit_ = split_ && !variantTrafficResults_.empty() && roadColor_ == kRoadByTraffic;
        return;
    }
    bool split = split_ && presenter_->hasVariant() && layer_ == ResultLayer::Depth;
    if (resultsShown_ && simTimeS == shownSimTime_ && split == shownSplit_ && layer_ == shownLayer_) return;
    float opacity = grid_ ? grid_->opacity : 0.8f;
    grid_ = presenter_->apply(*renderer_, simTimeS, split, layer_);
    if (grid_) {
        grid_->opacity = opacity;
        renderer_->setGridOpacity(opacity, render::Side::Left);
        renderer_->setGridOpacity(opacity, render::Side::Right);
    }
    resultsShown_ = true;
    shownSimTime_ = simTimeS;
    shownSplit_ = split;
    shownLayer_ = layer_;
}

void Viewer::setPresenting(bool on) {
    if (on == presenting_) return;
    presenting_ = on;
    GLFWmonitor* monitor = glfwGetPrimaryMonitor();
    if (on) {
        glfwGetWindowPos(window_, &windowedX_, &windowedY_);
        glfwGetWindowSize(window_, &windowedW_, &windowedH_);
        if (const GLFWvidmode* mode = monitor ? glfwGetVideoMode(monitor) : nullptr)
            glfwSetWindowMonitor(window_, monitor, 0, 0, mode->width, mode->height, mode->refreshRate);
        presentingSince_ = glfwGetTime();
        if (options_.tour) {
            tourTime_ = 0;
            tourPlaying_ = false;
            split_ = options_.tour->split;
        }
    } else {
        glfwSetWindowMonitor(window_, nullptr, windowedX_, windowedY_, std::max(windowedW_, 320), std::max(windowedH_, 240), 0);
        tourPlaying_ = false;
    }
    resized_ = true;
}

void Viewer::nextStop() {
    if (!options_.tour) return;
    const Tour& t = *options_.tour;
    // Play on to the end of the current stop (its glide, hold and simulation time), or, when
    // already there, through the next one; then wait for the presenter.
    auto endOf = [&](size_t i) { return t.arrival(i) + t.stops[i].holdS; };
    size_t target = t.at(tourTime_).stop;
    if (tourTime_ + 1e-6 >= endOf(target)) target = std::min(target + 1, t.stops.size() - 1);
    tourPauseAt_ = endOf(target);
    tourPlaying_ = tourTime_ + 1e-6 < *tourPauseAt_;
}

void Viewer::previousStop() {
    if (!options_.tour) return;
    const Tour& t = *options_.tour;
    TourFrame now = t.at(tourTime_);
    size_t target = now.holding && tourTime_ - t.arrival(now.stop) > 0.5 ? now.stop : (now.stop > 0 ? now.stop - 1 : 0);
    tourTime_ = t.arrival(target);
    tourPlaying_ = false;
    tourPauseAt_.reset();
}

void Viewer::presentationKeys() {
    auto pressed = [](int key) { return ImGui::IsKeyPressed(key, false); };
    // Clickers send Page Down/Up (some send arrows, B for black, F5/Esc for start/stop).
    if (pressed(GLFW_KEY_ESCAPE)) {
        setPresenting(false);
        return;
    }
    if (pressed(GLFW_KEY_PAGE_DOWN) || pressed(GLFW_KEY_RIGHT) || pressed(GLFW_KEY_N)) nextStop();
    if (pressed(GLFW_KEY_PAGE_UP) || pressed(GLFW_KEY_LEFT) || pressed(GLFW_KEY_P)) previousStop();
    if (pressed(GLFW_KEY_SPACE)) {
        if (options_.tour) {
            tourPlaying_ = !tourPlaying_;
            tourPauseAt_.reset(); // play on through the stops
            if (tourPlaying_ && tourTime_ >= options_.tour->duration()) tourTime_ = 0;
        } else {
            playing_ = !playing_;
        }
    }
    if (pressed(GLFW_KEY_HOME)) {
        tourTime_ = 0;
        tourPlaying_ = false;
    }
    if (pressed(GLFW_KEY_B)) split_ = !split_;
    if (pressed(GLFW_KEY_D)) layer_ = layer_ == ResultLayer::Depth ? ResultLayer::Difference : ResultLayer::Depth;
}

std::optional<TourFrame> Viewer::advanceTour(double dt) {
    if (!presenting_ || !options_.tour) return std::nullopt;
    const Tour& t = *options_.tour;
    if (tourPlaying_) {
        tourTime_ += dt;
        double end = tourPauseAt_ ? *tourPauseAt_ : t.duration();
        if (tourTime_ >= end) {
            tourTime_ = end;
            tourPlaying_ = false;
            tourPauseAt_.reset();
        }
    }
    return t.at(tourTime_);
}

render::Hud Viewer::overlayFor(const std::optional<TourFrame>& frame, std::optional<double> simTimeS, int width, int height) {
    render::Hud hud;
    OverlayContent c;
    std::optional<float> divider;
    if (shownSplit_) divider = splitFraction_ * float(width);
    if (presenting_) {
        if (presenter_) c = presenter_->overlay(frame ? &*frame : nullptr, simTimeS, divider, layer_);
        else c.title = scene_.scenario.name;
        if (!presenter_ || !presenter_->hasResults()) c.clock = settings_.time;
        bool fresh = glfwGetTime() - presentingSince_ < 8;
        c.hint = fresh ? tr("Right/Page Down: next   Left/Page Up: back   Space: play/pause   B: before/after   Esc: leave")
                       : tr("Esc: leave the presentation");
    } else if (divider && presenter_) {
        // Outside a presentation the panels say the rest: just the divider and the names.
        OverlayContent full = presenter_->overlay(nullptr, simTimeS, divider, layer_);
        c.splitAtPx = full.splitAtPx;
        c.leftName = full.leftName;
        c.rightName = full.rightName;
        c.scaleBar = c.northArrow = false;
    } else {
        return hud;
    }
    if (roadScale_ && presenting_) c.legends.push_back(*roadScale_);
    if (divider && !c.splitAtPx && shownSplit_) { // a split of traffic results (no flood to name it)
        c.splitAtPx = divider;
        const Tour* t = options_.tour ? &*options_.tour : nullptr;
        c.leftName = t ? t->baselineName.get() : tr("baseline");
        c.rightName = t ? t->variantName.get() : tr("variant");
    }
    drawOverlay(hud, c, control_.camera, width, height, presenter_ ? presenter_->groundZ() : typicalGroundZ(scene_.city));
    return hud;
}

void Viewer::startExport(const std::string& command, const std::vector<std::string>& args, const fs::path& out, bool video) {
    if (exportRunning_) return;
    if (exportThread_.joinable()) exportThread_.join();
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return;
    self[n] = 0;
    std::string cmd = fmt::format("'{}' {}", self, command);
    for (const auto& a : args) {
        std::string q = "'";
        for (char ch : a) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
        cmd += " " + q + "'";
    }
    cmd += " 2>&1";
    exportRunning_ = true;
    {
        std::lock_guard lock(exportMutex_);
        exportStatus_ = fmt::format(fmt::runtime(tr(video ? "writing video {}" : "writing still {}")), out.string());
    }
    // A separate process: the viewer stays responsive, and the export is exactly what the
    // command line writes.
    exportThread_ = std::thread([this, cmd, out, video] {
        std::string last;
        FILE* p = popen(cmd.c_str(), "r");
        char line[1024];
        while (p && fgets(line, sizeof line, p)) {
            last = line;
            while (!last.empty() && (last.back() == '\n' || last.back() == '\r')) last.pop_back();
            std::lock_guard lock(exportMutex_);
            exportStatus_ = last;
        }
        int rc = p ? pclose(p) : -1;
        std::lock_guard lock(exportMutex_);
        exportStatus_ = rc == 0 ? fmt::format(fmt::runtime(tr(video ? "video written: {}" : "still written: {}")), out.string())
                                : fmt::format(fmt::runtime(tr("export failed: {}")), last);
        exportRunning_ = false;
    });
}

std::optional<PickHit> Viewer::pickAt(double x, double y) {
    int w, h;
    glfwGetWindowSize(window_, &w, &h);
    render::Ray ray = control_.camera.rayThrough(x, y, std::max(w, 1), std::max(h, 1));
    return picker_->castRay(ray.origin, ray.direction, 1e6);
}

void Viewer::handleInput(double dt) {
    ImGuiIO& io = ImGui::GetIO();
    double x, y;
    glfwGetCursorPos(window_, &x, &y);
    int w, h;
    glfwGetWindowSize(window_, &w, &h);
    bool uiMouse = io.WantCaptureMouse;

    // The split view's divider follows a left drag that starts on it.
    if (shownSplit_ && !uiMouse) {
        bool down = glfwGetMouseButton(window_, GLFW_MOUSE_BUTTON_LEFT) == GLFW_PRESS;
        if (down && !draggingDivider_ && dragButton_ < 0 && std::abs(x - splitFraction_ * w) < 10) draggingDivider_ = true;
        if (!down) draggingDivider_ = false;
        if (draggingDivider_) {
            splitFraction_ = float(std::clamp(x / std::max(w, 1), 0.0, 1.0)); // to an edge: one side alone
            return;
        }
    }
    // In a tour the tour steers the camera.
    if (presenting_ && options_.tour) return;
    // Mouse: left drag orbits, right/middle drag pans, a click selects, a double click flies there.
    for (int button : {GLFW_MOUSE_BUTTON_LEFT, GLFW_MOUSE_BUTTON_RIGHT, GLFW_MOUSE_BUTTON_MIDDLE}) {
        bool down = glfwGetMouseButton(window_, button) == GLFW_PRESS;
        if (down && dragButton_ < 0 && !uiMouse) {
            dragButton_ = button;
            pressX_ = lastX_ = x;
            pressY_ = lastY_ = y;
            dragged_ = false;
            if (auto hit = pickAt(x, y)) control_.pivot = hit->point; // orbit/pan about what is under the mouse
            control_.flightTarget.reset();
        } else if (!down && dragButton_ == button) {
            if (!dragged_ && button == GLFW_MOUSE_BUTTON_LEFT && settings_.show.markers && !sensorMarkers_.empty()) {
                // A sensor marker within 12 px of the click (nearest wins) opens its history.
                std::vector<Vec3> positions;
                for (const auto& m : sensorMarkers_) positions.push_back(m.marker.position);
                if (auto k = pickMarker(positions, control_.camera, w, h, x, y)) {
                    openSensor(sensorMarkers_[*k].sensorId);
                    dragButton_ = -1;
                    continue;
                }
            }
            if (!dragged_ && button == GLFW_MOUSE_BUTTON_LEFT) {
                double now = glfwGetTime();
                auto hit = pickAt(x, y);
                if (hit && now - lastClickTime_ < 0.35) { // double click: fly to the point
                    double distance = std::max(60.0, (control_.camera.eye - hit->point).norm() * 0.4);
                    control_.flightTarget = lookAt(hit->point, distance, control_.camera.yawDeg, std::min(control_.camera.pitchDeg, -20.0));
                    control_.pivot = hit->point;
                }
                selected_ = hit;
                if (hit && hit->layer == MeshLayer::Roads) showRoadSeries_ = true; // its traffic, if the run has any
                if (hit && hit->layer != MeshLayer::Terrain) settings_.selection = render::Selection{hit->layer, hit->objectId};
                else settings_.selection.reset();
                lastClickTime_ = now;
            }
            dragButton_ = -1;
        }
    }
    if (dragButton_ >= 0) {
        double dx = x - lastX_, dy = y - lastY_;
        if (std::abs(x - pressX_) + std::abs(y - pressY_) > 4) dragged_ = true;
        if (dragged_) {
            if (dragButton_ == GLFW_MOUSE_BUTTON_LEFT) control_.orbit(dx, dy);
            else control_.pan(dx, dy, std::max(h, 1));
        }
        lastX_ = x;
        lastY_ = y;
    }
    if (scrollAccum_ != 0) {
        auto hit = pickAt(x, y);
        Vec3 target = hit ? hit->point : control_.camera.eye + control_.camera.rayThrough(x, y, std::max(w, 1), std::max(h, 1)).direction * 500;
        control_.flightTarget.reset();
        control_.zoomTowards(target, scrollAccum_);
        scrollAccum_ = 0;
    }

    // Keyboard: WASD/arrows move, Q/E down/up, shift faster; F flies to the selection, Home to the overview.
    if (!io.WantCaptureKeyboard) {
        auto key = [&](int k) { return glfwGetKey(window_, k) == GLFW_PRESS; };
        double heightAbove = std::max(5.0, control_.camera.eye.z() - scene_.mesh.boundsMin[2]);
        double speed = heightAbove * (key(GLFW_KEY_LEFT_SHIFT) ? 3.0 : 1.0) * dt;
        Vec3 f = control_.camera.forward();
        Vec3 ahead = Vec3(f.x(), f.y(), 0).normalized(), right = control_.camera.right();
        Vec3 move = Vec3::Zero();
        if (key(GLFW_KEY_W) || key(GLFW_KEY_UP)) move += ahead;
        if (key(GLFW_KEY_S) || key(GLFW_KEY_DOWN)) move -= ahead;
        if (key(GLFW_KEY_D)) move += right;
        if (key(GLFW_KEY_A)) move -= right;
        if (key(GLFW_KEY_E)) move.z() += 1;
        if (key(GLFW_KEY_Q)) move.z() -= 1;
        if (key(GLFW_KEY_LEFT)) control_.camera.yawDeg -= 60 * dt;
        if (key(GLFW_KEY_RIGHT)) control_.camera.yawDeg += 60 * dt;
        if (move.norm() > 0) {
            control_.flightTarget.reset();
            control_.camera.eye += move.normalized() * speed;
            control_.pivot += move.normalized() * speed;
        }
        if (ImGui::IsKeyPressed(GLFW_KEY_F, false) && selected_)
            control_.flightTarget = lookAt(selected_->point, 150, control_.camera.yawDeg, -35);
        if (ImGui::IsKeyPressed(GLFW_KEY_HOME, false)) control_.flightTarget = overviewCamera(scene_, double(w) / std::max(h, 1));
        if (ImGui::IsKeyPressed(GLFW_KEY_F12, false)) screenshotRequest_ = timestampName();
        if (ImGui::IsKeyPressed(GLFW_KEY_SPACE, false) && !presenting_) playing_ = !playing_;
        if (ImGui::IsKeyPressed(GLFW_KEY_F5, false) && !presenting_) setPresenting(true);
        if (ImGui::IsKeyPressed(GLFW_KEY_B, false) && !presenting_) split_ = !split_;
    }
    control_.update(dt);
}

void Viewer::drawLegend(const render::ColorScale& scale) {
    std::string title = tr(scale.title);
    ImGui::TextUnformatted(scale.unit.empty() ? title.c_str() : fmt::format("{} [{}]", title, scale.unit).c_str());
    ImDrawList* dl = ImGui::GetWindowDrawList();
    if (!scale.categories.empty()) { // a swatch and a name per class, in two columns where they fit
        const float side = ImGui::GetTextLineHeight(), gap = ImGui::GetStyle().ItemSpacing.x;
        float column = 0;
        for (const std::string& name : scale.categories) column = std::max(column, side + 2 * gap + ImGui::CalcTextSize(tr(name).c_str()).x);
        const bool two = 2 * column <= ImGui::GetContentRegionAvail().x;
        for (size_t k = 0; k < scale.categories.size(); ++k) {
            if (two && k % 2) ImGui::SameLine(ImGui::GetCursorPosX() + column);
            ImVec2 at = ImGui::GetCursorScreenPos();
            dl->AddRectFilled(at, ImVec2(at.x + side, at.y + side), scale.colorOf(float(k)) | 0xff000000u);
            ImGui::Dummy(ImVec2(side, side));
            ImGui::SameLine();
            ImGui::TextUnformatted(tr(scale.categories[k]).c_str());
        }
        return;
    }
    ImVec2 p = ImGui::GetCursorScreenPos();
    float w = std::max(200.0f, ImGui::GetContentRegionAvail().x), h = 16;
    const int steps = 48;
    for (int i = 0; i < steps; ++i) {
        uint32_t c = render::sampleColorMap(scale.map, (i + 0.5) / steps);
        dl->AddRectFilled(ImVec2(p.x + w * i / steps, p.y), ImVec2(p.x + w * (i + 1) / steps + 1, p.y + h), c | 0xff000000u);
    }
    ImGui::Dummy(ImVec2(w, h));
    ImGui::TextUnformatted(formatNumber(scale.min, 2).c_str());
    ImGui::SameLine(std::max(0.0f, w - 50));
    ImGui::TextUnformatted(formatNumber(scale.max, 2).c_str());
}

void Viewer::drawInspector() {
    if (!selected_) {
        ImGui::TextWrapped("%s", tr("Click a building, road or the ground. Double click flies there; F flies to the selection."));
        return;
    }
    const CityModel& city = scene_.city;
    const PickHit& hit = *selected_;
    Vec2 world = city.frame.toWorld(hit.point.head<2>());
    std::string crs = city.frame.crs.epsg() ? fmt::format("EPSG:{}", city.frame.crs.epsg()) : tr("local");
    ImGui::Text("%s: %s, %s (%s)", tr("Point"), formatNumber(world.x(), 1).c_str(), formatNumber(world.y(), 1).c_str(), crs.c_str());
    ImGui::Text("%s: %s", tr("Height above sea level"), formatQuantity(hit.point.z(), "m", 1).c_str());
    ImGui::Separator();
    auto row = [](const char* k, const std::string& v) {
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(k);
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(v.c_str());
    };
    if (hit.layer == MeshLayer::Buildings && hit.objectId < city.buildings.size()) {
        const Buildings& b = city.buildings;
        size_t i = hit.objectId;
        ImGui::TextUnformatted(fmt::format(fmt::runtime(tr("Building {}")), i).c_str());
        if (ImGui::BeginTable("building", 2, ImGuiTableFlags_RowBg | ImGuiTableFlags_Borders)) {
            row(tr("id"), b.sourceId[i]);
            if (!b.name[i].empty()) row(tr("name"), b.name[i]);
            row(tr("use"), tr(toString(b.use[i])));
            row(tr("height"), fmt::format("{} ({})", formatQuantity(b.heightM[i], "m", 1), toString(b.heightSource[i])));
            if (b.levels[i]) row(tr("storeys"), std::to_string(b.levels[i]));
            if (b.yearBuilt[i]) row(tr("built"), std::to_string(b.yearBuilt[i]));
            row(tr("footprint"), formatQuantity(b.footprintArea(i), "m²", 0));
            row(tr("ground"), formatQuantity(b.groundM[i], "m", 1));
            for (size_t k = 0; k < b.attributes.names.size(); ++k) { // source attributes keep their names
                const auto& col = b.attributes.columns[k];
                if (i < col.size() && !col[i].empty()) row(b.attributes.names[k].c_str(), col[i]);
            }
            ImGui::EndTable();
        }
    } else if (hit.layer == MeshLayer::Roads && hit.objectId < city.roads.edgeCount()) {
        const RoadNetwork& r = city.roads;
        size_t e = hit.objectId;
        ImGui::TextUnformatted(fmt::format(fmt::runtime(tr("Road edge {}")), e).c_str());
        if (ImGui::BeginTable("road", 2, ImGuiTableFlags_RowBg | ImGuiTableFlags_Borders)) {
            row(tr("name"), r.wayName[r.way[e]].empty() ? "-" : r.wayName[r.way[e]]);
            row(tr("way"), r.wayId[r.way[e]]);
            row(tr("class"), toString(r.roadClass[e]));
            row(tr("lanes"), std::to_string(int(r.lanes[e])));
            row(tr("Speed limit"), formatQuantity(r.speedMps[e] * 3.6, "km/h", 0));
            row(tr("length"), formatQuantity(r.lengthM[e], "m", 0));
            row("", r.reverse[e].valid() ? tr("two-way") : tr("one-way"));
            if (r.flags[e] & RoadNetwork::Bridge) row("", tr("bridge"));
            if (session_ && liveRoadValues_ && e < liveRoadValues_->values.size())
                row(tr("speed / limit now"), std::isnan(liveRoadValues_->values[e]) ? tr("no traffic")
                                                                                      : formatNumber(liveRoadValues_->values[e], 2));
            ImGui::EndTable();
        }
    } else {
        ImGui::TextUnformatted(tr("Terrain"));
        const Water& water = city.water;
        for (size_t a = 0; a < water.areas.size(); ++a)
            if (pointInRing(hit.point.head<2>(), water.areas.ring(a, 0)))
                ImGui::Text("%s: %s %s", tr("water"), water.areaKind[a].c_str(), water.areaName[a].c_str());
        const LandUse& lu = city.landuse;
        for (size_t a = 0; a < lu.size(); ++a)
            if (pointInRing(hit.point.head<2>(), lu.areas.ring(a, 0))) {
                ImGui::Text("%s: %s (%s %s %%)", tr("land use"), lu.className[a].c_str(), tr("sealed"),
                            formatNumber(lu.imperviousness[a] * 100.0, 0).c_str());
                break;
            }
    }
    if (grid_) {
        const auto& g = *grid_;
        int c = int(std::floor((hit.point.x() - g.originX) / g.cellSize)), r = int(std::floor((g.originY - hit.point.y()) / g.cellSize));
        if (c >= 0 && r >= 0 && c < g.width && r < g.height)
            ImGui::Text("%s: %s", tr(g.scale.title.c_str()), formatQuantity(g.values[size_t(r) * g.width + c], g.scale.unit, 3).c_str());
    }
}

void Viewer::drawPresentationMenu() {
    if (!ImGui::BeginMenu(tr("Presentation"))) return;
    int w, h;
    glfwGetFramebufferSize(window_, &w, &h);
    if (ImGui::MenuItem(tr("Start presentation"), "F5")) setPresenting(true);
    bool canSplit = (presenter_ && presenter_->hasVariant()) || !variantTrafficResults_.empty();
    ImGui::MenuItem(tr("Before/after (split view)"), "B", &split_, canSplit);
    bool difference = layer_ == ResultLayer::Difference;
    if (ImGui::MenuItem(tr("Difference layer"), "D", &difference, canSplit)) layer_ = difference ? ResultLayer::Difference : ResultLayer::Depth;
    ImGui::Separator();
    if (ImGui::BeginMenu(tr("Bookmarks"))) {
        if (options_.tour)
            for (const Bookmark& b : options_.tour->bookmarks)
                if (ImGui::MenuItem(b.name.c_str())) control_.flightTarget = b.camera;
        ImGui::Separator();
        if (ImGui::MenuItem(tr("Add bookmark here"))) {
            if (!options_.tour) {
                options_.tour = Tour{};
                options_.tour->baselineName = {"baseline", "heute"};
                options_.tour->variantName = {"variant", "Variante"};
            }
            Tour& t = *options_.tour;
            std::string name = fmt::format(fmt::runtime(tr("bookmark {}")), t.bookmarks.size() + 1);
            t.bookmarks.push_back({name, control_.camera});
            TourStop stop;
            stop.bookmark = t.bookmarks.size() - 1;
            stop.glideS = t.stops.empty() ? 0 : 4;
            t.stops.push_back(stop);
        }
        if (ImGui::MenuItem(tr("Save tour"), nullptr, false, options_.tour.has_value())) {
            fs::path file = options_.tour->file;
            if (file.empty()) {
                file = scene_.scenario.file;
                file.replace_extension(".tour.yaml");
            }
            try {
                saveTour(*options_.tour, file, scene_.city);
                options_.tour->file = file;
                status_ = fmt::format(fmt::runtime(tr("saved {}")), file.string());
            } catch (const std::exception& e) {
                status_ = fmt::format(fmt::runtime(tr("could not save: {}")), e.what());
            }
        }
        ImGui::EndMenu();
    }
    ImGui::Separator();
    // Exports run `citytwin render-tour` / `citytwin render` in the background with this view's settings.
    std::vector<std::string> common = {"--lang", languageCode(language())};
    if (!options_.results.empty()) common.insert(common.end(), {"--results", options_.results.string()});
    if (split_ && canSplit) common.push_back("--split");
    else common.push_back("--no-split");
    if (layer_ == ResultLayer::Difference) common.push_back("--difference");
    bool tourSaved = options_.tour && !options_.tour->file.empty();
    if (ImGui::MenuItem(tr("Export tour video..."), nullptr, false, tourSaved && !exportRunning_)) {
        fs::path out = fs::absolute(scene_.scenario.file.parent_path() / (options_.tour->file.stem().stem().string() + ".mp4"));
        std::vector<std::string> args = {scene_.scenario.file.string(), options_.tour->file.string(), "--out", out.string(),
                                         "--size", "1920x1080"};
        args.insert(args.end(), common.begin(), common.end());
        startExport("render-tour", args, out, true);
    }
    if (ImGui::MenuItem(tr("Export 4K still"), nullptr, false, !exportRunning_)) {
        fs::path out = fs::absolute(timestampName());
        Vec2 eye = scene_.city.frame.toWorld(control_.camera.eye.head<2>());
        std::vector<std::string> args = {scene_.scenario.file.string(), "--out", out.string(), "--size", "3840x2160", "--camera",
                                         fmt::format("{:.2f},{:.2f},{:.2f},{:.3f},{:.3f}", eye.x(), eye.y(), control_.camera.eye.z(),
                                                     control_.camera.yawDeg, control_.camera.pitchDeg),
                                         "--sim-time", fmt::format("{:.0f}", shownSimTime_.value_or(simOffsetS_))};
        if (tourSaved) args.insert(args.end(), {"--tour", options_.tour->file.string(), "--at", fmt::format("{:.3f}", tourTime_)});
        args.insert(args.end(), common.begin(), common.end());
        startExport("render", args, out, false);
    }
    ImGui::EndMenu();
}

bool Viewer::beginPanel(const std::string& title, bool* open) {
    const bool expanded = ImGui::Begin(title.c_str(), open);
    const ImVec2 display = ImGui::GetIO().DisplaySize;
    if (auto was = panelPos_.find(title); was != panelPos_.end() && panelsLaidOutFor_.x > 0)
        followWindowResize(panelsLaidOutFor_, display, was->second, ImGui::GetFrameHeight());
    const ImVec2 pos = ImGui::GetWindowPos(), size = ImGui::GetWindowSize();
    panelPos_[title] = pos;
    panelPlaces_.push_back(fmt::format("{} {:.0f} {:.0f} {:.0f} {:.0f}", title.substr(title.rfind('#') + 1), pos.x, pos.y, size.x, size.y));
    return expanded;
}

void Viewer::drawUi(const render::FrameStats& stats, double frameMs) {
    panelPlaces_.clear();
    if (ImGui::BeginMainMenuBar()) {
        if (ImGui::BeginMenu(tr("File"))) {
            if (ImGui::MenuItem(tr("Open scenario..."))) openScenarioPopup_ = true;
            if (ImGui::MenuItem(tr("Screenshot"), "F12")) screenshotRequest_ = timestampName();
            if (ImGui::MenuItem(tr("Quit"), "Esc")) glfwSetWindowShouldClose(window_, 1);
            ImGui::EndMenu();
        }
        if (ImGui::BeginMenu(tr("View"))) {
            ImGui::MenuItem(tr("Layers"), nullptr, &showLayers_);
            ImGui::MenuItem(tr("Legend"), nullptr, &showLegend_);
            ImGui::MenuItem(tr("Inspector"), nullptr, &showInspector_);
            ImGui::MenuItem(tr("Time"), nullptr, &showTime_);
            ImGui::MenuItem(tr("Statistics"), nullptr, &showStats_);
            ImGui::MenuItem(tr("Load curve"), nullptr, &showLoadCurve_, !loadCurves_.empty());
            ImGui::MenuItem(tr("Road traffic"), nullptr, &showRoadSeries_, !trafficResults_.empty());
            ImGui::MenuItem(tr("Feeds"), nullptr, &showFeeds_, feedHost_ || !recorded_.empty() || !scene_.scenario.feeds.empty());
            ImGui::Separator();
            if (ImGui::MenuItem(tr("Overview"), "Home")) {
                int w, h;
                glfwGetFramebufferSize(window_, &w, &h);
                control_.flightTarget = overviewCamera(scene_, double(w) / std::max(h, 1));
            }
            if (ImGui::MenuItem(tr("Vsync"), nullptr, &vsync_)) resized_ = true;
            if (ImGui::BeginMenu(tr("Language"))) {
                if (ImGui::MenuItem(tr("English"), nullptr, language() == Language::English)) setLanguage(Language::English);
                if (ImGui::MenuItem(tr("German"), nullptr, language() == Language::German)) setLanguage(Language::German);
                ImGui::EndMenu();
            }
            ImGui::EndMenu();
        }
        if (ImGui::BeginMenu(tr("Places"))) {
            // Fly to a named building or street; the named buildings are listed.
            ImGui::SetNextItemWidth(220);
            bool go = ImGui::InputTextWithHint("##place", tr("building or street name"), placeQuery_, sizeof placeQuery_,
                                               ImGuiInputTextFlags_EnterReturnsTrue);
            std::string target = go ? placeQuery_ : "";
            ImGui::Separator();
            for (const auto& name : places_)
                if (ImGui::MenuItem(name.c_str())) target = name;
            if (!target.empty()) {
                int w, h;
                glfwGetFramebufferSize(window_, &w, &h);
                if (auto cam = namedCamera(scene_, target, double(w) / std::max(h, 1))) {
                    control_.flightTarget = *cam;
                    status_ = fmt::format(fmt::runtime(tr("flying to {}")), target);
                } else {
                    status_ = fmt::format(fmt::runtime(tr("no building or street named '{}'")), target);
                }
                ImGui::CloseCurrentPopup();
            }
            ImGui::EndMenu();
        }
        drawPresentationMenu();
        {
            std::lock_guard lock(exportMutex_);
            if (!exportStatus_.empty()) ImGui::TextDisabled("%s", exportStatus_.c_str());
        }
        if (!status_.empty()) ImGui::TextDisabled("%s", status_.c_str());
        ImGui::EndMainMenuBar();
    }
    if (openScenarioPopup_) {
        ImGui::OpenPopup(windowTitle("Open scenario").c_str());
        openScenarioPopup_ = false;
    }
    if (ImGui::BeginPopupModal(windowTitle("Open scenario").c_str(), nullptr, ImGuiWindowFlags_AlwaysAutoResize)) {
        ImGui::InputText(tr("scenario YAML"), openPath_, sizeof openPath_);
        if (ImGui::Button(tr("Open"))) {
            try {
                CityScene next = loadScene(openPath_, options_.sceneOptions);
                // Results and tour belong to the old scenario.
                options_.tour.reset();
                options_.results.clear();
                split_ = false;
                layer_ = ResultLayer::Depth;
                scene_ = std::move(next);
                presenter_ = std::make_unique<Presenter>(scene_, fs::path());
                grid_.reset();
                loadCity();
                loadRunResults();
                loadTrafficResults();
                status_ = fmt::format(fmt::runtime(tr("opened {}")), openPath_);
            } catch (const std::exception& e) {
                status_ = fmt::format(fmt::runtime(tr("could not open: {}")), e.what()); // the old city stays
            }
            ImGui::CloseCurrentPopup();
        }
        ImGui::SameLine();
        if (ImGui::Button(tr("Cancel"))) ImGui::CloseCurrentPopup();
        ImGui::EndPopup();
    }

    ImGuiIO& io = ImGui::GetIO();
    float right = io.DisplaySize.x - 10;
    if (showLayers_) {
        ImGui::SetNextWindowPos(ImVec2(10, 30), ImGuiCond_FirstUseEver);
        ImGui::SetNextWindowSize(ImVec2(270, 0), ImGuiCond_FirstUseEver);
        if (beginPanel(windowTitle("Layers"), &showLayers_)) {
            // Sliders and lists leave room on their right for the longest label (in this language).
            float label = 0;
            for (const char* l : {"opacity", "buildings by", "roads by", "terrain detail"}) label = std::max(label, ImGui::CalcTextSize(tr(l)).x);
            ImGui::PushItemWidth(-(label + ImGui::GetStyle().ItemInnerSpacing.x));
            auto& s = settings_.show;
            ImGui::Checkbox(tr("Terrain"), &s.terrain);
            ImGui::Checkbox(tr("Water bodies"), &s.water);
            ImGui::Checkbox(tr("Buildings"), &s.buildings);
            ImGui::Checkbox(tr("Roads"), &s.roads);
            ImGui::Checkbox(tr("Labels"), &s.markers);
            if (traffic_) ImGui::Checkbox(tr("Vehicles"), &s.agents);
            if (grid_) {
                ImGui::Checkbox(fmt::format("{}###grid", tr(grid_->scale.title)).c_str(), &s.grid);
                if (ImGui::SliderFloat(tr("opacity"), &grid_->opacity, 0, 1)) {
                    renderer_->setGridOpacity(grid_->opacity, render::Side::Left);
                    renderer_->setGridOpacity(grid_->opacity, render::Side::Right);
                }
            }
            ImGui::Separator();
            std::vector<const char*> buildingItems;
            for (const char* c : buildingColorChoices) buildingItems.push_back(tr(c));
            for (const auto& f : buildingResults_.fields) buildingItems.push_back(f.c_str()); // the run's results
            // The road choices there are data for (and the one shown, even if its data went away).
            std::vector<int> roadChoices;
            std::vector<const char*> roadItems;
            for (int i = 0; i < int(IM_ARRAYSIZE(roadColorChoices)); ++i) {
                bool available = i == kRoadByTraffic ? trafficAvailable() : i == kRoadByCounts ? countsAvailable_ : true;
                if (!available && i != roadColor_) continue;
                roadChoices.push_back(i);
                roadItems.push_back(tr(roadColorChoices[i]));
            }
            int roadItem = int(std::find(roadChoices.begin(), roadChoices.end(), roadColor_) - roadChoices.begin());
            if (ImGui::Combo(tr("buildings by"), &buildingColor_, buildingItems.data(), int(buildingItems.size()))) applyBuildingColors();
            if (ImGui::Combo(tr("roads by"), &roadItem, roadItems.data(), int(roadItems.size()))) {
                roadColor_ = roadChoices[size_t(roadItem)];
                applyRoadColors();
            }
            ImGui::Separator();
            ImGui::Checkbox(tr("Shadows"), &settings_.shadows);
            ImGui::Checkbox(tr("Hillshade"), &settings_.hillshade);
            ImGui::SliderFloat(tr("terrain detail"), &settings_.terrainDetail, 0.25f, 4.0f);
            bool simplify = settings_.buildingCoarsePx > 0; // footprints as rectangles where that strays under a pixel
            if (ImGui::Checkbox(tr("Simplify far buildings"), &simplify)) settings_.buildingCoarsePx = simplify ? 1.0f : 0.0f;
            ImGui::PopItemWidth();
        }
        ImGui::End();
    }
    if (showLegend_ && (grid_ || buildingScale_ || roadScale_)) {
        ImGui::SetNextWindowPos(ImVec2(10, io.DisplaySize.y - 230), ImGuiCond_FirstUseEver);
        ImGui::SetNextWindowSize(ImVec2(270, 0), ImGuiCond_FirstUseEver);
        if (beginPanel(windowTitle("Legend"), &showLegend_)) {
            if (grid_ && settings_.show.grid) drawLegend(grid_->scale);
            if (buildingScale_) drawLegend(*buildingScale_);
            if (roadScale_) drawLegend(*roadScale_);
        }
        ImGui::End();
    }
    if (showInspector_) {
        ImGui::SetNextWindowPos(ImVec2(right - 340, 30), ImGuiCond_FirstUseEver);
        ImGui::SetNextWindowSize(ImVec2(340, 360), ImGuiCond_FirstUseEver);
        if (beginPanel(windowTitle("Inspector"), &showInspector_)) drawInspector();
        ImGui::End();
    }
    if (showTime_) {
        ImGui::SetNextWindowPos(ImVec2(io.DisplaySize.x / 2 - 260, io.DisplaySize.y - 110), ImGuiCond_FirstUseEver);
        ImGui::SetNextWindowSize(ImVec2(520, 0), ImGuiCond_FirstUseEver);
        if (beginPanel(windowTitle("Time"), &showTime_)) {
            if (ImGui::Button(fmt::format("{}###play", playing_ ? tr("Pause") : tr("Play")).c_str())) playing_ = !playing_;
            ImGui::SameLine();
            ImGui::SetNextItemWidth(120);
            ImGui::SliderFloat(tr("speed x"), &playSpeed_, 1, 3600, "%.0f", ImGuiSliderFlags_Logarithmic);
            float offset = float(simOffsetS_ / 60);
            float duration = float(std::max(60.0, scene_.scenario.durationS) / 60);
            ImGui::SetNextItemWidth(-1);
            if (session_) { // a live run only goes forward
                ImGui::ProgressBar(float(liveTime_.load() / std::max(1.0, scene_.scenario.durationS)), ImVec2(-1, 0),
                                   fmt::format(fmt::runtime(tr("simulated {} of {} min ({})")), formatNumber(liveTime_.load() / 60, 1),
                                               formatNumber(duration, 0), options_.liveVariant ? tr("variant") : tr("baseline"))
                                       .c_str());
            } else if (ImGui::SliderFloat("##seek", &offset, 0, duration, "%.1f min")) {
                simOffsetS_ = offset * 60.0;
            }
            render::SunPosition sun = renderer_->sunFor(settings_);
            ImGui::Text("%s   %s %s° / %s°", formatDateTime(settings_.time).c_str(), tr("Sun"), formatNumber(sun.azimuthDeg, 0).c_str(),
                        formatNumber(sun.elevationDeg, 0).c_str());
        }
        ImGui::End();
    }
    drawLoadCurve();
    drawRoadSeries();
    drawFeeds();
    drawSensor();
    if (showStats_) {
        ImGui::SetNextWindowPos(ImVec2(right - 340, io.DisplaySize.y - 190), ImGuiCond_FirstUseEver);
        ImGui::SetNextWindowSize(ImVec2(340, 0), ImGuiCond_FirstUseEver);
        if (beginPanel(windowTitle("Statistics"), &showStats_)) {
            ImGui::Text("%s fps, %s ms", formatNumber(1000.0 / std::max(frameMs, 1e-3), 1).c_str(), formatNumber(frameMs, 2).c_str());
            ImGui::Text("%s %s M / %s M, %s %u", tr("triangles"), formatNumber(stats.triangles / 1e6, 2).c_str(),
                        formatNumber(renderer_->sceneTriangles() / 1e6, 2).c_str(), tr("draws"), stats.drawCalls);
            ImGui::Text("%s %u, %s %u", tr("chunks drawn"), stats.chunksDrawn, tr("culled"), stats.chunksCulled);
            // Far buildings drawn as one point each (not among the triangles); always shown, so the
            // panel keeps the height it was given on the first frame.
            ImGui::Text("%s %s", tr("buildings as points"), formatNumber(double(stats.buildingBoxes), 0).c_str());
            ImGui::Text("%s %s MiB", tr("GPU memory"), formatNumber(ctx_->deviceLocalBytes() / 1048576.0, 0).c_str());
            ImGui::Text("%s", ctx_->deviceName().c_str());
            Vec2 eye = scene_.city.frame.toWorld(control_.camera.eye.head<2>());
            // Machine-readable (for --camera), so not localised.
            ImGui::Text("%s %.1f,%.1f,%.1f,%.1f,%.1f", tr("camera"), eye.x(), eye.y(), control_.camera.eye.z(), control_.camera.yawDeg,
                        control_.camera.pitchDeg);
        }
        ImGui::End();
    }
    panelsLaidOutFor_ = io.DisplaySize;
}

void Viewer::saveScreenshot(uint32_t imageIndex, const fs::path& file, VkCommandBuffer cmd) {
    // Copy the presented image to a host buffer; written to PNG once the frame's fence signals.
    VkExtent2D e = swapchain_->extent();
    VkDeviceSize bytes = VkDeviceSize(e.width) * e.height * 4;
    if (screenshotBuffer_.size < bytes) {
        ctx_->destroy(screenshotBuffer_);
        screenshotBuffer_ = ctx_->createBuffer(bytes, VK_BUFFER_USAGE_TRANSFER_DST_BIT, true);
    }
    VkImageMemoryBarrier b{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
    b.oldLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
    b.newLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
    b.srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
    b.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
    b.srcQueueFamilyIndex = b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    b.image = swapchain_->image(imageIndex);
    b.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0, nullptr, 1, &b);
    VkBufferImageCopy region{};
    region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
    region.imageExtent = {e.width, e.height, 1};
    vkCmdCopyImageToBuffer(cmd, b.image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, screenshotBuffer_.buffer, 1, &region);
    b.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
    b.newLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
    b.srcAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
    b.dstAccessMask = 0;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, 0, 0, nullptr, 0, nullptr, 1, &b);
    VkBufferMemoryBarrier hb{VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER};
    hb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    hb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    hb.srcQueueFamilyIndex = hb.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    hb.buffer = screenshotBuffer_.buffer;
    hb.size = VK_WHOLE_SIZE;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 0, nullptr, 1, &hb, 0, nullptr);
    pendingScreenshot_ = file;
}

void Viewer::writePendingScreenshot() {
    // The copy made by saveScreenshot() has finished (its frame's fence signalled).
    VkExtent2D e = swapchain_->extent();
    render::Picture p;
    p.width = int(e.width);
    p.height = int(e.height);
    p.rgba.resize(size_t(e.width) * e.height * 4);
    std::memcpy(p.rgba.data(), screenshotBuffer_.mapped, p.rgba.size());
    bool bgra = swapchain_->format() == VK_FORMAT_B8G8R8A8_UNORM || swapchain_->format() == VK_FORMAT_B8G8R8A8_SRGB;
    for (size_t i = 0; i < p.rgba.size(); i += 4) {
        if (bgra) std::swap(p.rgba[i], p.rgba[i + 2]);
        p.rgba[i + 3] = 255;
    }
    try {
        p.writePng(pendingScreenshot_);
        status_ = fmt::format("saved {}", pendingScreenshot_.string());
        spdlog::info("screenshot {}", pendingScreenshot_.string());
    } catch (const std::exception& ex) {
        status_ = ex.what(); // a bad path must not end the session
        spdlog::error("{}", ex.what());
    }
    pendingScreenshot_.clear();
}

int Viewer::run() {
    if (options_.feeds) { // before the window: a scenario without feeds fails without one
        if (scene_.scenario.feeds.empty())
            throw InputError("the scenario has no feeds", scene_.scenario.file.string(), "add a 'feeds:' list (docs/plugins.md) or leave out --feeds");
        startFeeds();
    }
    if (options_.live) { // before the window: a bad scenario fails without one
        startLive();
        playing_ = true;
    }
    struct StopLive {
        Viewer* v;
        ~StopLive() { v->stopLive(); }
    } stopLiveAtExit{this};
    // Results and tour before the window too. A live run draws its own water.
    presenter_ = std::make_unique<Presenter>(scene_, options_.live ? fs::path() : options_.results, options_.tour);
    initWindow();
    initImGui();
    grid_ = options_.grid;
    loadCity();
    loadRunResults();
    loadTrafficResults();
    if (session_ && traffic_) {
        roadColor_ = kRoadByTraffic;
        applyRoadColors();
    }
    if (!options_.colorBy.empty()) {
        std::vector<std::string> choices(std::begin(buildingColorChoices), std::end(buildingColorChoices));
        choices.insert(choices.end(), buildingResults_.fields.begin(), buildingResults_.fields.end());
        auto it = std::find(choices.begin() + 1, choices.end(), options_.colorBy);
        if (it == choices.end()) {
            std::string list;
            for (size_t k = 1; k < choices.size(); ++k) list += (list.empty() ? "" : ", ") + choices[k];
            throw InputError(fmt::format("cannot colour buildings by '{}'", options_.colorBy), "--color-by", "use one of: " + list);
        }
        buildingColor_ = int(it - choices.begin());
        applyBuildingColors();
    }
    if (options_.camera) control_.camera = *options_.camera;
    if (options_.present) setPresenting(true);
    VkDevice d = ctx_->device();
    int frame = 0;
    long frames = 0;
    auto last = std::chrono::steady_clock::now();
    double frameMs = 16;
    render::FrameStats stats;
    int pendingFrame = -1;
    while (!glfwWindowShouldClose(window_)) {
        glfwPollEvents();
        int fw, fh;
        glfwGetFramebufferSize(window_, &fw, &fh);
        if (fw == 0 || fh == 0) { // minimised: wait without drawing
            glfwWaitEvents();
            continue;
        }
        if (resized_ || uint32_t(fw) != swapchain_->extent().width || uint32_t(fh) != swapchain_->extent().height) recreateSwapchain();
        auto now = std::chrono::steady_clock::now();
        double dt = std::chrono::duration<double>(now - last).count();
        last = now;
        frameMs = frameMs * 0.9 + dt * 1000 * 0.1;

        render::vkCheck(vkWaitForFences(d, 1, &fences_[frame], VK_TRUE, UINT64_MAX), "vkWaitForFences");
        if (pendingFrame == frame && !pendingScreenshot_.empty()) {
            writePendingScreenshot();
            pendingFrame = -1;
        }
        uint32_t imageIndex = 0;
        VkResult r = vkAcquireNextImageKHR(d, swapchain_->handle(), UINT64_MAX, imageAvailable_[frame], VK_NULL_HANDLE, &imageIndex);
        if (r == VK_ERROR_OUT_OF_DATE_KHR) {
            recreateSwapchain();
            continue;
        }
        if (r != VK_SUBOPTIMAL_KHR) render::vkCheck(r, "vkAcquireNextImageKHR");
        render::vkCheck(vkResetFences(d, 1, &fences_[frame]), "vkResetFences");

        ImGui_ImplVulkan_NewFrame();
        ImGui_ImplGlfw_NewFrame();
        ImGui::NewFrame();
        if (presenting_) presentationKeys();
        else if (ImGui::IsKeyPressed(GLFW_KEY_ESCAPE, false) && !ImGui::GetIO().WantCaptureKeyboard) glfwSetWindowShouldClose(window_, 1);
        handleInput(dt);
        std::optional<TourFrame> tourFrame = advanceTour(dt);
        if (tourFrame) {
            control_.camera = tourFrame->camera;
            control_.flightTarget.reset();
            if (tourFrame->simTimeS) simOffsetS_ = *tourFrame->simTimeS;
        }
        if (playing_ && !tourFrame) simOffsetS_ = std::min(simOffsetS_ + dt * playSpeed_, std::max(60.0, scene_.scenario.durationS));
        refreshSensors();
        if (session_) {
            // The clock runs no further ahead of the simulation than one frame's worth.
            simOffsetS_ = std::min(simOffsetS_, liveTime_.load() + dt * playSpeed_);
            liveTarget_ = playing_ ? simOffsetS_ + dt * playSpeed_ : liveTime_.load();
            showLive();
        }
        settings_.time = scene_.scenario.start;
        settings_.time.utcSeconds += int64_t(simOffsetS_);
        if (presenting_ && options_.tour && options_.tour->lightAt) settings_.time = *options_.tour->lightAt;
        std::optional<double> simTime;
        if (presenter_->hasResults()) simTime = simOffsetS_;
        showResults(simTime);
        showTraffic();
        if (shownSplit_) settings_.splitAtPx = splitFraction_ * float(fw);
        else settings_.splitAtPx.reset();
        if (!presenting_) drawUi(stats, frameMs);
        ImGui::Render();
        render::Hud hud = overlayFor(tourFrame, simTime, fw, fh);

        bool lastFrame = options_.exitAfterFrames > 0 && frames + 1 >= options_.exitAfterFrames;
        // A counted run (the tests) also resizes the window halfway, so swapchain recreation
        // runs under the validation layer too.
        if (options_.exitAfterFrames >= 4 && frames == options_.exitAfterFrames / 2)
            glfwSetWindowSize(window_, int(options_.width) * 3 / 4, int(options_.height) * 3 / 4);
        if (lastFrame && !options_.screenshot.empty()) screenshotRequest_ = options_.screenshot;
        VkCommandBuffer cmd = cmds_[frame];
        vkResetCommandBuffer(cmd, 0);
        VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
        bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
        vkBeginCommandBuffer(cmd, &bi);
        stats = renderer_->record(cmd, frame, swapchain_->framebuffer(imageIndex), swapchain_->extent(), control_.camera, settings_,
                                  hud.empty() ? nullptr : &hud,
                                  [](VkCommandBuffer c) { ImGui_ImplVulkan_RenderDrawData(ImGui::GetDrawData(), c); });
        if (!screenshotRequest_.empty()) {
            saveScreenshot(imageIndex, screenshotRequest_, cmd);
            screenshotRequest_.clear();
            pendingFrame = frame;
        }
        render::vkCheck(vkEndCommandBuffer(cmd), "vkEndCommandBuffer");
        VkPipelineStageFlags waitStage = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
        VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
        si.waitSemaphoreCount = 1;
        si.pWaitSemaphores = &imageAvailable_[frame];
        si.pWaitDstStageMask = &waitStage;
        si.commandBufferCount = 1;
        si.pCommandBuffers = &cmd;
        si.signalSemaphoreCount = 1;
        si.pSignalSemaphores = &renderFinished_[imageIndex];
        render::vkCheck(vkQueueSubmit(ctx_->queue(), 1, &si, fences_[frame]), "vkQueueSubmit");
        VkPresentInfoKHR pi{VK_STRUCTURE_TYPE_PRESENT_INFO_KHR};
        pi.waitSemaphoreCount = 1;
        pi.pWaitSemaphores = &renderFinished_[imageIndex];
        VkSwapchainKHR sc = swapchain_->handle();
        pi.swapchainCount = 1;
        pi.pSwapchains = &sc;
        pi.pImageIndices = &imageIndex;
        r = vkQueuePresentKHR(ctx_->queue(), &pi);
        if (r == VK_ERROR_OUT_OF_DATE_KHR || r == VK_SUBOPTIMAL_KHR) resized_ = true;
        else render::vkCheck(r, "vkQueuePresentKHR");
        frame = (frame + 1) % kFrames;
        ++frames;
        if (lastFrame) { // the screenshot, if any, is written after the loop
            glfwSetWindowShouldClose(window_, 1);
        }
    }
    vkDeviceWaitIdle(d);
    if (!pendingScreenshot_.empty()) writePendingScreenshot();
    if (exportThread_.joinable()) exportThread_.join(); // a running export finishes its file
    std::printf("viewer: %ld frames, %.1f fps at the end, %s\n", frames, 1000.0 / std::max(frameMs, 1e-3), ctx_->deviceName().c_str());
    if (options_.exitAfterFrames > 0) { // where the panels ended up, for the tests
        const ImVec2 display = ImGui::GetIO().DisplaySize;
        std::printf("viewer: window %.0f %.0f below the menu bar %.0f\n", display.x, display.y, ImGui::GetFrameHeight());
        for (const std::string& place : panelPlaces_) std::printf("viewer: panel %s\n", place.c_str());
    }
    if (session_) std::printf("viewer: simulated %.0f s of %.0f s live\n", liveTime_.load(), scene_.scenario.durationS);
    size_t messages = ctx_->validationMessages();
    stopFeeds();
    shutdownImGui();
    for (int i = 0; i < kFrames; ++i) {
        vkDestroyFence(d, fences_[i], nullptr);
        vkDestroySemaphore(d, imageAvailable_[i], nullptr);
    }
    for (auto s : renderFinished_) vkDestroySemaphore(d, s, nullptr);
    ctx_->destroy(screenshotBuffer_);
    picker_.reset();
    swapchain_.reset();
    renderer_.reset();
    bool validation = ctx_->validationEnabled();
    std::string lastMessage = ctx_->lastValidationMessage();
    ctx_.reset(); // destroys the surface before the window
    glfwDestroyWindow(window_);
    glfwTerminate();
    if (validation && messages > 0) {
        std::fprintf(stderr, "error: %zu Vulkan validation messages; the last: %s\n", messages, lastMessage.c_str());
        return 3;
    }
    return 0;
}

} // namespace

int runViewer(CityScene scene, const ViewerOptions& options) {
    Viewer viewer(std::move(scene), options);
    return viewer.run();
}

} // namespace ct::ui
