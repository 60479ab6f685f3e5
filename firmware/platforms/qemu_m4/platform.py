"""Local PlatformIO dev-platform: Cortex-M4F bare metal on QEMU mps2-an386."""

from platformio.public import PlatformBase


class Tinyxray_qemu_m4Platform(PlatformBase):
    """No packages: the build uses the system arm-none-eabi toolchain."""
