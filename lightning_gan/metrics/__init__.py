"""Sample-quality measures: FID / IS / KID (torch-fidelity's protocol), precision / recall / density / coverage,
nearest training images, mode coverage, the digits judge."""

from lightning_gan.metrics.digits import DigitsReference
from lightning_gan.metrics.features import Features, ImageFolder, RealFeatureCache
from lightning_gan.metrics.fidelity import fidelity_metrics, inception_score, kernel_inception_distance
from lightning_gan.metrics.frechet import frechet_distance
from lightning_gan.metrics.inception import FeatureExtractor, InceptionV3, random_inception_weights
from lightning_gan.metrics.mode_coverage import mode_coverage
from lightning_gan.metrics.neighbours import Neighbours, PixelFeatures, find_neighbours, nearest_neighbours
from lightning_gan.metrics.prdc import precision_recall_density_coverage

__all__ = [
    "DigitsReference",
    "FeatureExtractor",
    "Features",
    "ImageFolder",
    "InceptionV3",
    "Neighbours",
    "PixelFeatures",
    "RealFeatureCache",
    "fidelity_metrics",
    "find_neighbours",
    "frechet_distance",
    "inception_score",
    "kernel_inception_distance",
    "mode_coverage",
    "nearest_neighbours",
    "precision_recall_density_coverage",
    "random_inception_weights",
]
