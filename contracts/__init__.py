"""The Clarity contracts, their Clarinet manifest and settings, and the Node bridge to the
Clarinet SDK, shipped as package data so that an installed engine finds them as a checkout does.

This package holds no Python beyond `DIR`: the folder on disk, which the bridge runs in and
where `npm ci --prefix DIR` installs the SDK.
"""

from pathlib import Path

DIR = Path(__file__).parent
