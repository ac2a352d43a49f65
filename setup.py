"""Packaging beyond pyproject.toml: a wheel (or ``pip install .``) carries the kit's files that
live outside ``autograder/`` in a checkout (the reference solutions, the handout's stubs and
public tests, the sample class) as package data under ``autograder/_kit/``; ``autograder.paths``
finds them there when there is no checkout around the package."""

from setuptools import find_packages, setup

KIT_DIRS = ("solutions", "assignments", "examples")  # checkout folder -> autograder/_kit/<same>
SKIP = ["**/__pycache__/*", "**/*.pyc", "**/.pytest_cache/**"]

packages = find_packages(include=["autograder", "autograder.*"])
package_dir = {}
package_data = {"autograder": ["lms/templates/*", "oracle/data/*", "audit/corpus/**/*"]}
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
