"""crossdomain: is a text-pretrained BERT a better starting point for DNA, proteins and music?"""

__version__ = "0.1.0"
