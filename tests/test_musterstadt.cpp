#include <gtest/gtest.h>
TEST(Musterstadt, Placeholder) {}
