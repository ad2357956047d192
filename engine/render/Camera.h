#pragma once
// A perspective camera in the local frame (x east, y north, z up): eye, compass heading,
// pitch. Reverse-Z infinite projection so a city from street level to 20 km needs no far plane.
#include "core/Geometry.h"

#include <Eigen/Core>
#include <array>
#include <optional>
#include <string>

namespace ct::render {

struct Ray {
    Vec3 origin, direction; // direction unit length
};

struct Camera {
    Vec3 eye{0, 0, 500};
    double yawDeg = 0;      // compass heading of the view: 0 north, 90 east
    double pitchDeg = -30;  // above (+) or below (−) the horizon, |pitch| < 90
    double fovYDeg = 45;
    double nearM = 0.5;

    Vec3 forward() const;
    Vec3 right() const;
    Vec3 up() const;
    Eigen::Matrix4f view() const;
    Eigen::Matrix4f projection(double aspect) const; // Vulkan clip space, depth 1 at near → 0 far
    Eigen::Matrix4f viewProjection(double aspect) const { return projection(aspect) * view(); }

    // Pixel (x right, y down, pixel centres at +0.5) of a point, if in front of the camera.
    std::optional<Eigen::Vector2d> project(const Vec3& p, int width, int height) const;
    // The ray from the eye through a pixel position.
    Ray rayThrough(double px, double py, int width, int height) const;

    // Looks from the south-south-west at a box so all of it is in view (for --camera default).
    static Camera framing(const std::array<float, 3>& boxMin, const std::array<float, 3>& boxMax, double aspect);
    // "x,y,z,yaw,pitch" in local coordinates; nullopt if malformed.
    static std::optional<Camera> parse(const std::string& text);
    std::string toString() const;
};

// Planes of the view frustum (left, right, bottom, top, near) as (n, d): n·p + d ≥ 0 inside.
struct Frustum {
    std::array<Eigen::Vector4f, 5> planes;
    explicit Frustum(const Eigen::Matrix4f& viewProjection);
    bool intersectsBox(const std::array<float, 3>& min, const std::array<float, 3>& max) const;
    bool containsBox(const std::array<float, 3>& min, const std::array<float, 3>& max) const; // wholly inside
};

} // namespace ct::render
