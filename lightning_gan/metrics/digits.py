"""Judging generated digits against scikit-learn's real ones, offline and in seconds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from torch import Tensor

from lightning_gan.metrics.frechet import frechet_distance

__all__ = ["DigitsReference"]


@dataclass
class DigitsReference:
    """Reference measurements on the real digits, and the same measurements on samples.

    Fits, on scikit-learn's bundled digits resized as :class:`~lightning_gan.data.DigitsDataModule`
    resizes them: a logistic-regression classifier on two thirds of the digits (stratified), and a
    PCA on all of them. The real reference numbers are measured on held-out real digits:

    - ``real_confidence``: mean top-class probability of the classifier on held-out digits;
    - ``real_accuracy``: its accuracy there;
    - ``real_frechet``: Frechet distance in PCA space between two disjoint halves of the digits.

    :meth:`score` measures samples the same way.

    With ``classes`` (e.g. ``[5, 6, 7, 8, 9]``: a model trained on ``DigitsDataModule(classes=...)``),
    the reference is the digits of those classes: the PCA is fitted on them, ``real_frechet`` is
    between two halves of them, and :meth:`score`'s ``frechet`` is to the held-out half of them. The
    classifier stays the ten-class one, fitted on the same two thirds of all the digits, so
    ``confidence`` is comparable with the ten-class numbers and ``class_fractions`` (still over ten
    classes) shows samples that look like a digit outside ``classes``; ``real_confidence`` and
    ``real_accuracy`` are measured on the held-out digits of ``classes``.

    Args:
        size: side of the images, as for ``DigitsDataModule(size=...)``.
        pca_components: dimension of the feature space of the Frechet distance.
        seed: seed of the splits.
        classes: digit classes (distinct ints in 0-9) the Frechet distance and the real numbers are
            measured on; ``None``: all ten.

    Example:
        >>> ref = DigitsReference(size=16)  # doctest: +SKIP
        >>> ref.score(model.generate(1000, seed=0))["confidence"]  # doctest: +SKIP
    """

    size: int = 16
    pca_components: int = 20
    seed: int = 0
    classes: Sequence[int] | None = None
    real_confidence: float = field(init=False)
    real_accuracy: float = field(init=False)
    real_frechet: float = field(init=False)

    def __post_init__(self) -> None:
        from sklearn.decomposition import PCA
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split

        from lightning_gan.data import DigitsDataModule
        from lightning_gan.data.digits import check_digit_classes

        self.classes = check_digit_classes(type(self).__name__, self.classes)
        data = DigitsDataModule(size=self.size)
        data.setup()
        assert data.images is not None and data.labels is not None
        x, y = data.images.flatten(1).numpy(), data.labels.numpy()
        x_fit, x_held, y_fit, y_held = train_test_split(x, y, test_size=1 / 3, stratify=y, random_state=self.seed)
        self.classifier = LogisticRegression(max_iter=5000).fit(x_fit, y_fit)
        if self.classes is not None:  # the real numbers and the Frechet space: those classes' digits only
            held = np.isin(y_held, self.classes)
            x_held, y_held = x_held[held], y_held[held]
            x = x[np.isin(y, self.classes)]
        probs = self.classifier.predict_proba(x_held)
        self.real_confidence = float(probs.max(1).mean())
        self.real_accuracy = float((probs.argmax(1) == y_held).mean())
        self.pca = PCA(self.pca_components, random_state=self.seed).fit(x)
        order = np.random.default_rng(self.seed).permutation(len(x))
        half_a, self._half_b = self.pca.transform(x[order[: len(x) // 2]]), self.pca.transform(x[order[len(x) // 2 :]])
        self.real_frechet = frechet_distance(half_a, self._half_b)

    def score(self, samples: Tensor, labels: Tensor | None = None) -> dict[str, float | list[float]]:
        """Measure ``(N, 1, size, size)`` samples in [-1, 1] (clamped to it first, as a saved image
        would be: a generator without an output squashing, such as StyleGAN2's, overshoots it).

        Returns ``confidence`` (mean top-class probability), ``class_fractions`` (share of the
        samples the classifier puts in each class), ``frechet`` (to the held-out half of the real
        digits, in PCA space) and, when the asked-for ``labels`` are given, ``accuracy`` (share
        classified as asked). With ``classes``, ``frechet`` is to the held-out half of those classes'
        digits, and ``outside_classes`` is the share of samples classified as another digit.
        """
        expected = (1, self.size, self.size)
        if samples.dim() != 4 or tuple(samples.shape[1:]) != expected:
            raise ValueError(
                f"DigitsReference.score: samples of shape {tuple(samples.shape)}; expected (N, *{expected})"
            )
        x = samples.detach().float().clamp(-1, 1).cpu().flatten(1).numpy()
        probs = self.classifier.predict_proba(x)
        predicted = probs.argmax(1)
        result: dict[str, float | list[float]] = {
            "confidence": float(probs.max(1).mean()),
            "class_fractions": np.bincount(predicted, minlength=10).astype(float) / len(x),
            "frechet": frechet_distance(self.pca.transform(x), self._half_b),
        }
        result["class_fractions"] = [float(f) for f in result["class_fractions"]]  # type: ignore[union-attr]
        if self.classes is not None:
            result["outside_classes"] = float((~np.isin(predicted, self.classes)).mean())
        if labels is not None:
            result["accuracy"] = float((predicted == labels.cpu().numpy()).mean())
        return result
