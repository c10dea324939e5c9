"""Generator and discriminator architectures.

Every network here records its constructor arguments (see :class:`Recordable`), so a
``GANModule`` checkpoint rebuilds it without pickling.
"""

from lightning_gan.nets._recordable import Recordable, build_network, network_spec
from lightning_gan.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from lightning_gan.nets.mlp import DataStandardizer, MLPDiscriminator, MLPGenerator
from lightning_gan.nets.resnet import ResNetDiscriminator, ResNetGenerator
from lightning_gan.nets.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "DataStandardizer",
    "MLPDiscriminator",
    "MLPGenerator",
    "Recordable",
    "ResNetDiscriminator",
    "ResNetGenerator",
    "StyleGAN2Discriminator",
    "StyleGAN2Generator",
    "build_network",
    "network_spec",
]
