#pragma once
// Progress of long work. On a terminal: a bar redrawn in place on stderr; otherwise a plain
// line every 10 %, so CI logs and pipes stay readable.
#include <chrono>
#include <string>

namespace ct {

class Progress {
public:
    explicit Progress(std::string label, bool enabled = true);
    ~Progress();
    // fraction in [0, 1]; `detail` is shown after the bar (e.g. "t=120 s dt=0.4 s").
    void update(double fraction, const std::string& detail = {});
    void finish(const std::string& detail = {});

private:
    std::string label;
    bool enabled;
    bool terminal;
    bool finished = false;
    int lastDecile = -1;
    std::chrono::steady_clock::time_point start, lastDraw;
};

} // namespace ct
