"""Strong photometric augmentation: what changes between hospitals, applied to training batches.

The preset's `photometric = "strong"` adds, after the geometric augmentation, per image:

- gamma: x -> 255 (x / 255) ** g, log g uniform in [-0.4, 0.4] (g 0.67-1.49);
- contrast: (x - mean) * c + mean, c uniform in [0.6, 1.4];
- brightness: + b, b uniform in [-25, 25] grey levels;
- blur or sharpening: x + a (blur(x) - x) with a uniform in [-0.5, 1] (a 3x3 Gaussian,
  sigma 1; a < 0 is unsharp masking);
- Gaussian noise with a standard deviation uniform in [0, 6] grey levels;
- JPEG re-encoding at a quality uniform in 30-95, on half of the images.

Frames stay on the 0..255 grey scale the network takes and are rounded as a real frame
is. The random numbers come from one `tf.random.Generator` per dataset, whose state lives
in a variable, so every epoch draws new values and a seed repeats a run exactly.
"""

from __future__ import annotations

import numpy as np

PHOTOMETRIC = ("mild", "strong")
GAMMA_LOG_RANGE = 0.4
CONTRAST_RANGE = (0.6, 1.4)
BRIGHTNESS_RANGE = 25.0
SHARPEN_BLUR_RANGE = (-0.5, 1.0)
NOISE_MAX = 6.0
JPEG_QUALITY = (30, 95)
JPEG_FRACTION = 0.5


def _blur_kernel():
    import tensorflow as tf

    taps = np.exp(-0.5 * np.array([-1.0, 0.0, 1.0]) ** 2)
    kernel = np.outer(taps, taps) / np.outer(taps, taps).sum()
    return tf.constant(kernel.reshape(3, 3, 1, 1), tf.float32)


def strong_photometric(seed: int):
    """A function (images) -> images for batches of shape (B, H, W, 1), values 0..255."""
    import tensorflow as tf

    generator = tf.random.Generator.from_seed(seed)
    kernel = _blur_kernel()

    def per_image(shape_batch, low, high):
        return generator.uniform([shape_batch, 1, 1, 1], low, high)

    def jpeg(image_and_quality):
        image, quality, apply = image_and_quality
        encoded = tf.image.adjust_jpeg_quality(tf.cast(image, tf.uint8), quality)
        return tf.where(apply, tf.cast(encoded, tf.float32), image)

    def augment(images):
        count = tf.shape(images)[0]
        x = tf.clip_by_value(images, 0.0, 255.0)
        gamma = tf.exp(per_image(count, -GAMMA_LOG_RANGE, GAMMA_LOG_RANGE))
        x = 255.0 * tf.pow(x / 255.0, gamma)
        mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
        x = (x - mean) * per_image(count, *CONTRAST_RANGE) + mean
        x = x + per_image(count, -BRIGHTNESS_RANGE, BRIGHTNESS_RANGE)
        blurred = tf.nn.conv2d(
            tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC"), kernel, 1, "VALID"
        )
        x = x + per_image(count, *SHARPEN_BLUR_RANGE) * (blurred - x)
        x = x + generator.normal(tf.shape(x)) * per_image(count, 0.0, NOISE_MAX)
        x = tf.round(tf.clip_by_value(x, 0.0, 255.0))
        quality = generator.uniform([count], JPEG_QUALITY[0], JPEG_QUALITY[1] + 1, tf.int32)
        apply = generator.uniform([count]) < JPEG_FRACTION
        return tf.map_fn(jpeg, (x, quality, apply), fn_output_signature=tf.float32)

    return augment
