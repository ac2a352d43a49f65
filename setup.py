"""Packaging beyond pyproject.toml: a wheel (or ``pip install .``) carries the kit's files that
live outside ``autograder/`` in a checkout (the reference solutions, the handout's stubs and
public tests, the sample class, the audit's correct implementations) as package data under
``autograder/_kit/``; ``autograder.paths`` finds them there when there is no checkout around
the package."""

from setuptools import find_packages, setup

# checkout folder -> autograder/_kit/<same>
KIT_DIRS = ("solutions", "assignments", "examples", "corpus")
SKIP = ["**/__pycache__/*", "**/*.pyc", "**/.pytest_cache/**"]

packages = find_packages(include=["autograder", "autograder.*"])
package_dir = {}
DATA = ["lms/templates/*", "oracle/data/*", "topics/*/*.toml", "topics/*/*.yaml"]
package_data = {"autograder": DATA}
for folder in KIT_DIRS:
    name = f"autograder._kit.{folder}"
    packages.append(name)
    package_dir[name] = folder
    package_data[name] = ["**/*"]

setup(
    packages=packages,
    package_dir=package_dir,
    package_data=package_data,
    exclude_package_data={"": SKIP},
)
