"""Emulators of a Bitrix24 portal and a 1C base, for tests, benchmarks, the demo and the sandbox.

They live apart from the product code and share one dataset module, so that for
a given seed the products and counterparties correspond between the two systems.
"""
