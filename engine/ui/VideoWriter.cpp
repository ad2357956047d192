#include "ui/VideoWriter.h"

#include "core/Error.h"

#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

namespace ct::ui {

namespace fs = std::filesystem;

namespace {
std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}
bool ffmpegInstalled() { return std::system("command -v ffmpeg >/dev/null 2>&1") == 0; }
} // namespace

VideoWriter::VideoWriter(const fs::path& file, int width, int height, int fps) : file(file), width(width), height(height) {
    if (width % 2 || height % 2)
        throw InputError(fmt::format("video size {}x{} is odd", width, height), "--size", "H.264 needs even sizes, e.g. 1920x1080");
    if (fps < 1 || fps > 240) throw InputError(fmt::format("{} frames per second", fps), "--fps", "give 1 to 240");
    if (!ffmpegInstalled()) throw InputError("ffmpeg not found", "render-tour", "install the Debian package ffmpeg");
    std::signal(SIGPIPE, SIG_IGN); // a dying ffmpeg must give an error here, not kill the program
    if (file.has_parent_path()) fs::create_directories(file.parent_path());
    log = file;
    log += ".ffmpeg.log";
    // yuv420p and faststart: plays in browsers, PowerPoint and on phones.
    std::string cmd = fmt::format("ffmpeg -nostdin -hide_banner -loglevel error -y -f rawvideo -pix_fmt rgba -s {}x{} -r {} -i - "
                                  "-c:v libx264 -preset medium -crf 20 -pix_fmt yuv420p -movflags +faststart {} 2>{}",
                                  width, height, fps, quote(file.string()), quote(log.string()));
    pipe = popen(cmd.c_str(), "w");
    if (!pipe) throw std::runtime_error("could not start ffmpeg");
}

VideoWriter::~VideoWriter() {
    if (pipe) pclose(pipe);
}

void VideoWriter::write(const render::Picture& frame) {
    if (!pipe) throw std::logic_error("VideoWriter: write after finish");
    if (frame.width != width || frame.height != height) throw std::invalid_argument("VideoWriter: frame size changed");
    if (std::fwrite(frame.rgba.data(), 1, frame.rgba.size(), pipe) != frame.rgba.size()) {
        pclose(pipe);
        pipe = nullptr;
        std::ifstream in(log);
        std::stringstream ss;
        ss << in.rdbuf();
        throw std::runtime_error(fmt::format("ffmpeg stopped taking frames: {}", ss.str()));
    }
    ++written;
}

void VideoWriter::finish() {
    if (!pipe) return;
    int status = pclose(pipe);
    pipe = nullptr;
    std::ifstream in(log);
    std::stringstream messages;
    messages << in.rdbuf();
    in.close();
    if (status != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error(fmt::format("ffmpeg failed writing {}: {}", file.string(), messages.str()));
    fs::remove(log);
}

} // namespace ct::ui
