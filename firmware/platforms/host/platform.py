"""Local PlatformIO dev-platform: the firmware as a native Linux process."""

from platformio.public import PlatformBase


class Tinyxray_hostPlatform(PlatformBase):
    """No packages, no boards: the build uses the system toolchain."""
