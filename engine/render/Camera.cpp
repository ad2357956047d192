#include "render/Camera.h"

#include <Eigen/Geometry>
#include <cmath>
#include <fmt/format.h>
#include <sstream>

namespace ct::render {

namespace {
constexpr double degToRad = 3.14159265358979323846 / 180.0;
}

Vec3 Camera::forward() const {
    double y = yawDeg * degToRad, p = pitchDeg * degToRad;
    return {std::sin(y) * std::cos(p), std::cos(y) * std::cos(p), std::sin(p)};
}

Vec3 Camera::right() const {
    double y = yawDeg * degToRad;
    return {std::cos(y), -std::sin(y), 0};
}

Vec3 Camera::up() const { return right().cross(forward()); }

Eigen::Matrix4f Camera::view() const {
    Vec3 f = forward(), r = right(), u = up();
    Eigen::Matrix4d m = Eigen::Matrix4d::Identity();
    m.row(0) << r.x(), r.y(), r.z(), -r.dot(eye);
    m.row(1) << u.x(), u.y(), u.z(), -u.dot(eye);
    m.row(2) << -f.x(), -f.y(), -f.z(), f.dot(eye);
    return m.cast<float>();
}

Eigen::Matrix4f Camera::projection(double aspect) const {
    double f = 1.0 / std::tan(fovYDeg * degToRad / 2);
    Eigen::Matrix4d p = Eigen::Matrix4d::Zero();
    p(0, 0) = f / aspect;
    p(1, 1) = -f; // Vulkan's y points down
    p(2, 3) = nearM;
    p(3, 2) = -1;
    return p.cast<float>();
}

std::optional<Eigen::Vector2d> Camera::project(const Vec3& p, int width, int height) const {
    // In double, independent of the float matrices the GPU gets.
    Vec3 d = p - eye;
    double z = d.dot(forward());
    if (z <= nearM) return std::nullopt;
    double t = std::tan(fovYDeg * degToRad / 2), aspect = double(width) / height;
    double nx = d.dot(right()) / (z * t * aspect), ny = d.dot(up()) / (z * t);
    return Eigen::Vector2d((nx + 1) / 2 * width, (1 - ny) / 2 * height);
}

Ray Camera::rayThrough(double px, double py, int width, int height) const {
    double t = std::tan(fovYDeg * degToRad / 2), aspect = double(width) / height;
    double nx = px / width * 2 - 1, ny = 1 - py / height * 2;
    Vec3 d = forward() + right() * (nx * t * aspect) + up() * (ny * t);
    return {eye, d.normalized()};
}

Camera Camera::framing(const std::array<float, 3>& mn, const std::array<float, 3>& mx, double aspect) {
    Camera c;
    c.yawDeg = 20;
    c.pitchDeg = -38;
    Vec3 lo(mn[0], mn[1], mn[2]), hi(mx[0], mx[1], mx[2]);
    Vec3 centre = (lo + hi) / 2;
    // Back away along the view direction until every box corner projects inside the frame.
    double t = std::tan(c.fovYDeg * degToRad / 2);
    double fitX = t * std::min(aspect, 1e9), fitY = t;
    double distance = 10;
    Vec3 f = c.forward(), r = c.right(), u = c.up();
    for (int i = 0; i < 8; ++i) {
        Vec3 k((i & 1) ? hi.x() : lo.x(), (i & 2) ? hi.y() : lo.y(), (i & 4) ? hi.z() : lo.z());
        Vec3 d = k - centre;
        // Need distance + d·f ≥ |d·r| / fitX and ≥ |d·u| / fitY (with a 5 % margin).
        distance = std::max(distance, std::abs(d.dot(r)) / (0.95 * fitX) - d.dot(f));
        distance = std::max(distance, std::abs(d.dot(u)) / (0.95 * fitY) - d.dot(f));
    }
    c.eye = centre - f * distance;
    return c;
}

std::optional<Camera> Camera::parse(const std::string& text) {
    std::stringstream s(text);
    std::string item;
    std::vector<double> v;
    while (std::getline(s, item, ',')) {
        try {
            size_t used = 0;
            v.push_back(std::stod(item, &used));
            if (used != item.size()) return std::nullopt;
        } catch (...) {
            return std::nullopt;
        }
    }
    if (v.size() != 5 || std::abs(v[4]) >= 90) return std::nullopt;
    Camera c;
    c.eye = {v[0], v[1], v[2]};
    c.yawDeg = v[3];
    c.pitchDeg = v[4];
    return c;
}

std::string Camera::toString() const {
    return fmt::format("{:.1f},{:.1f},{:.1f},{:.1f},{:.1f}", eye.x(), eye.y(), eye.z(), yawDeg, pitchDeg);
}

Frustum::Frustum(const Eigen::Matrix4f& m) {
    Eigen::Vector4f r0 = m.row(0), r1 = m.row(1), r2 = m.row(2), r3 = m.row(3);
    planes = {r3 + r0, r3 - r0, r3 + r1, r3 - r1, r3 - r2}; // x, y in [-w, w]; z ≤ w (near, reverse-Z)
}

bool Frustum::intersectsBox(const std::array<float, 3>& mn, const std::array<float, 3>& mx) const {
    for (const auto& p : planes) {
        // The box corner furthest along the plane normal.
        float x = p.x() >= 0 ? mx[0] : mn[0], y = p.y() >= 0 ? mx[1] : mn[1], z = p.z() >= 0 ? mx[2] : mn[2];
        if (p.x() * x + p.y() * y + p.z() * z + p.w() < 0) return false;
    }
    return true;
}

bool Frustum::containsBox(const std::array<float, 3>& mn, const std::array<float, 3>& mx) const {
    for (const auto& p : planes) {
        // The box corner least along the plane normal.
        float x = p.x() >= 0 ? mn[0] : mx[0], y = p.y() >= 0 ? mn[1] : mx[1], z = p.z() >= 0 ? mn[2] : mx[2];
        if (p.x() * x + p.y() * y + p.z() * z + p.w() < 0) return false;
    }
    return true;
}

} // namespace ct::render
