"""Training helpers: presets, overrides, split fractions, class weights, precise BatchNorm."""

import keras
import numpy as np
import pytest

from tinyxray import model, train


def test_presets_match_the_study():
    assert model.get_preset("case1").head_units == 8 and model.get_preset("case1").dropout == 0.15
    assert model.get_preset("case2").architecture == "efficientnetb0"
    assert model.get_preset("case2").learning_rate == 0.001
    assert model.get_preset("case3").head_units == 32
    assert model.get_preset("case4").dropout == 0.1
    for name in ("case1", "case2", "case3", "case4"):
        preset = model.get_preset(name)
        assert (preset.epochs, preset.batch_size, preset.validation_fraction) == (20, 32, 0.2)
    with pytest.raises(ValueError, match="unknown preset"):
        model.get_preset("case9")


def _batchnorm_momenta(layers) -> set[float]:
    return {
        layer.momentum for layer in layers if isinstance(layer, keras.layers.BatchNormalization)
    }


def test_batchnorm_momentum_is_not_keras_default():
    built = model.build_model(model.get_preset("tiny"))
    assert _batchnorm_momenta(built.layers) == {model.BN_MOMENTUM}


def test_parse_overrides_types_values():
    overrides = train.parse_overrides(
        ["bn_momentum=0.99", "augment=false", "epochs=3", "stem_filters=none", "lr_schedule=cosine"]
    )
    assert overrides == {
        "bn_momentum": 0.99,
        "augment": False,
        "epochs": 3,
        "stem_filters": None,
        "lr_schedule": "cosine",
    }
    with pytest.raises(ValueError, match="KEY one of"):
        train.parse_overrides(["no_such_field=1"])
    with pytest.raises(ValueError, match="epochs takes int, not 'abc'"):
        train.parse_overrides(["epochs=abc"])
    with pytest.raises(ValueError, match="augment takes true or false"):
        train.parse_overrides(["augment=maybe"])


def test_split_fractions_and_class_weights():
    assert train.split_fractions(0.2, 0.2) == pytest.approx((0.64, 0.16, 0.2))
    weights = train.class_weights(np.array([0, 0, 0, 1, 2, 2]), 3)
    assert weights == pytest.approx({0: 6 / 9, 1: 2.0, 2: 1.0})


def test_reestimate_batchnorm_gives_the_training_mean():
    inputs = keras.Input((4, 4, 1))
    outputs = keras.layers.BatchNormalization(momentum=0.99, name="bn")(inputs)
    bn_model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    images = rng.normal(50.0, 10.0, size=(64, 4, 4, 1)).astype("float32")
    batches = model.reestimate_batchnorm(bn_model, images, batch_size=16)
    assert batches == 4
    layer = bn_model.get_layer("bn")
    assert float(layer.moving_mean.numpy()[0]) == pytest.approx(images.mean(), rel=1e-4)
    # Mean of the per-batch variances (precise BN), close to the population variance.
    per_batch = [images[i : i + 16].var() for i in range(0, 64, 16)]
    assert float(layer.moving_variance.numpy()[0]) == pytest.approx(np.mean(per_batch), rel=1e-3)
    assert layer.momentum == 0.99  # restored


def test_split_key_ignores_where_the_dataset_lives():
    relative = train.split_key("../shared/datasets/seed/test/Covid/1.png", "seed")
    absolute = train.split_key("/data/copy/seed/test/Covid/1.png", "seed")
    assert relative == absolute == ("seed", "test", "Covid", "1.png")
    assert train.split_key("/a/seed/train/Covid/1.png", "seed") != relative


def test_efficientnet_case_uses_our_batchnorm_momentum():
    built = model.build_model(model.get_preset("case2"))
    backbone = next(layer for layer in built.layers if isinstance(layer, keras.Model))
    assert _batchnorm_momenta(backbone.layers) == {model.BN_MOMENTUM}


def test_mixup_mixes_images_targets_and_weights_alike():
    import tensorflow as tf

    images = tf.constant(np.stack([np.full((4, 4, 1), v, np.float32) for v in (0.0, 100.0)]))
    targets = tf.constant(np.eye(3, dtype=np.float32)[[0, 2]])
    weights = tf.constant([1.0, 3.0])
    mixed_images, mixed_targets, mixed_weights = (
        t.numpy() for t in train.mixup_batch(images, targets, weights, alpha=0.4, seed=7)
    )
    # Each example keeps >= half of itself; the target and weight use the same mixing weight.
    own = mixed_targets[[0, 1], [0, 2]]
    assert np.all(own >= 0.5) and np.allclose(mixed_targets.sum(axis=1), 1.0)
    assert mixed_images[0, 0, 0, 0] == pytest.approx(100.0 * (1.0 - own[0]), abs=1e-3)
    assert mixed_images[1, 0, 0, 0] == pytest.approx(100.0 * own[1], abs=1e-3)
    assert mixed_weights[0] == pytest.approx(own[0] * 1.0 + (1.0 - own[0]) * 3.0, abs=1e-5)


def test_training_batches_carry_one_hot_targets_and_class_weights():
    preset = model.get_preset("tiny", batch_size=4)
    frames = np.arange(6 * 4 * 4, dtype=np.float32).reshape(6, 4, 4, 1)
    labels = np.array([0, 1, 2, 2, 1, 0])
    weights = np.array([1.0, 2.0, 3.0, 3.0, 2.0, 1.0], np.float32)
    batches = list(train.make_dataset(frames, labels, preset, seed=1, train=False, weights=weights))
    images, targets, batch_weights = (
        np.concatenate([b[i].numpy() for b in batches]) for i in range(3)
    )
    assert np.array_equal(images, frames)  # evaluation batches are left alone
    assert np.array_equal(targets.argmax(1), labels) and np.all(targets.sum(1) == 1.0)
    assert np.array_equal(batch_weights, weights)


def test_ema_optimizer_is_requested_by_the_preset():
    plain = train.make_optimizer(model.get_preset("tiny"), steps_per_epoch=2)
    averaged = train.make_optimizer(model.get_preset("tiny", ema=0.95), steps_per_epoch=2)
    assert not plain.use_ema
    assert averaged.use_ema and averaged.ema_momentum == pytest.approx(0.95)


def test_distillation_blends_labels_with_the_teacher_on_the_training_image():
    import tensorflow as tf

    preset = model.get_preset("tiny", batch_size=3, distill=0.25)  # tiny: no augmentation
    frames = np.stack([np.full((4, 4, 1), v, np.float32) for v in (10.0, 20.0, 30.0)])
    labels = np.array([0, 1, 2])

    def teacher(images, training=False):
        # Soft targets that depend on the image: all mass on class (pixel // 10) % 3.
        return tf.one_hot(tf.cast(images[:, 0, 0, 0] // 10, tf.int32) % 3, 3)

    expected = {10.0: [0.75, 0.25, 0.0], 20.0: [0.0, 0.75, 0.25], 30.0: [0.25, 0.0, 0.75]}
    images, targets, _ = next(
        iter(train.make_dataset(frames, labels, preset, 0, train=True, teacher=teacher))
    )
    for image, target in zip(images.numpy(), targets.numpy(), strict=True):
        assert target == pytest.approx(expected[float(image[0, 0, 0])])
