#include "feeds/FeedBus.h"

#include <algorithm>
#include <stdexcept>

namespace ct::feeds {

FeedBus::FeedBus(size_t capacityIn) : slots(std::max<size_t>(capacityIn, 1)) {}

uint32_t FeedBus::addFeed(const std::string& name) {
    std::lock_guard lock(mutex);
    perFeed.emplace_back();
    names.push_back(name);
    return static_cast<uint32_t>(perFeed.size() - 1);
}

// Caller holds the lock. Moving a std::string is a pointer swap, so the critical section stays
// short even for long sensor ids; the copies were made by the producer outside the lock.
size_t FeedBus::pushLocked(uint32_t feed, Observation&& o) {
    if (feed >= perFeed.size()) throw std::out_of_range("FeedBus: unknown feed id " + std::to_string(feed));
    BusCounters& c = perFeed[feed];
    ++c.published;
    ++total.published;
    if (count == slots.size()) {
        ++c.dropped;
        ++total.dropped;
        return 0;
    }
    o.feed = feed;
    slots[(head + count) % slots.size()] = std::move(o);
    maxCount = std::max(maxCount, ++count);
    return 1;
}

// Caller holds the lock. The consumer is woken only when the queue crosses a quarter of its
// capacity, so a steady trickle costs no futex calls and a burst is drained before it overflows.
bool FeedBus::crossedMarkLocked(size_t sizeBefore) const {
    size_t mark = std::max<size_t>(slots.size() / 4, 1);
    return sizeBefore < mark && count >= mark;
}

size_t FeedBus::publish(uint32_t feed, std::vector<Observation>&& observations) {
    size_t queued = 0;
    bool crossed;
    {
        std::lock_guard lock(mutex);
        size_t before = count;
        for (auto& o : observations)
            queued += pushLocked(feed, std::move(o));
        crossed = crossedMarkLocked(before);
    }
    if (crossed) workCv.notify_one();
    return queued;
}

size_t FeedBus::publish(uint32_t feed, std::span<const Observation> observations) {
    std::vector<Observation> copies(observations.begin(), observations.end()); // outside the lock
    return publish(feed, std::move(copies));
}

bool FeedBus::publish(Observation observation) {
    size_t queued;
    bool crossed;
    {
        std::lock_guard lock(mutex);
        size_t before = count;
        queued = pushLocked(observation.feed, std::move(observation));
        crossed = crossedMarkLocked(before);
    }
    if (crossed) workCv.notify_one();
    return queued == 1;
}

size_t FeedBus::drain(std::vector<Observation>& out, size_t max) {
    std::lock_guard lock(mutex);
    size_t n = std::min(max, count);
    out.reserve(out.size() + n);
    for (size_t i = 0; i < n; ++i) {
        Observation& slot = slots[head];
        ++perFeed[slot.feed].delivered;
        out.push_back(std::move(slot));
        head = (head + 1) % slots.size();
    }
    count -= n;
    total.delivered += n;
    woken = false;
    return n;
}

void FeedBus::waitForWork(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex);
    size_t mark = std::max<size_t>(slots.size() / 4, 1);
    workCv.wait_for(lock, timeout, [&] { return woken || count >= mark; });
    woken = false;
}

void FeedBus::wake() {
    {
        std::lock_guard lock(mutex);
        woken = true;
    }
    workCv.notify_all();
}

size_t FeedBus::size() const {
    std::lock_guard lock(mutex);
    return count;
}

size_t FeedBus::highWater() const {
    std::lock_guard lock(mutex);
    return maxCount;
}

BusCounters FeedBus::counters() const {
    std::lock_guard lock(mutex);
    return total;
}

BusCounters FeedBus::counters(uint32_t feed) const {
    std::lock_guard lock(mutex);
    if (feed >= perFeed.size()) throw std::out_of_range("FeedBus: unknown feed id " + std::to_string(feed));
    return perFeed[feed];
}

std::vector<std::string> FeedBus::feedNames() const {
    std::lock_guard lock(mutex);
    return names;
}

} // namespace ct::feeds
