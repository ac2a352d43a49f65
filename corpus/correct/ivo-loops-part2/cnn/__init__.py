"""Numpy exercises for the lecture "Convolutional Neural Networks".

Modules: ``shapes``, ``conv``, ``pooling``, ``activations``, ``optimizers``,
``regularization``, ``training`` and ``model``. Each is independent: this file imports none
of them, so one unfinished or broken module never stops the others from being tested.
"""
