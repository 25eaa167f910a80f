"""ImageNet channel statistics: the one copy in skhisto (registry, benchmarks and tests use it)."""

#: ImageNet RGB (mean, std) of pixels scaled to [0, 1]: the input normalization most
#: backbones were trained with.
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
