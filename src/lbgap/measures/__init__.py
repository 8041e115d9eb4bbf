"""Measures of a trained point: sharpness (Metric 2.1) and the Hessian, landscape curves, gradient noise."""
