#pragma once
// Writes pictures as an H.264 MP4 by piping raw RGBA frames to ffmpeg (Debian's package).
#include "render/Offscreen.h"

#include <cstdio>
#include <filesystem>
#include <string>

namespace ct::ui {

class VideoWriter {
public:
    // Starts ffmpeg. InputError if it is not installed or the size is odd (H.264 in yuv420p
    // needs even sizes).
    VideoWriter(const std::filesystem::path& file, int width, int height, int fps);
    ~VideoWriter(); // closes without checking (use finish() to know it worked)
    VideoWriter(const VideoWriter&) = delete;
    VideoWriter& operator=(const VideoWriter&) = delete;

    void write(const render::Picture& frame);
    // Waits for ffmpeg; throws std::runtime_error with its messages if it failed.
    void finish();
    long frames() const { return written; }

private:
    std::filesystem::path file, log;
    int width, height;
    FILE* pipe = nullptr;
    long written = 0;
};

} // namespace ct::ui
