"""thb-kb: a Linked Open Data knowledge base of cooperation against trafficking in human beings.

Import light: the CLI imports submodules only where a command needs them.
"""

__version__ = "0.1.0"
