"""The engine: code that exists only for speed, each piece tested equal to the textbook.

The updaters in ``npg.algos`` are the reference; where an update or an acting step has a
compiled path, it lives here and agrees with the reference to floating-point rounding:
``kernels`` (fused Numba kernels: bias + activation, loss layers, Adam), ``gemm`` (BLAS GEMM
called from compiled code), ``tanh`` (the engine's float64 tanh, tested against ``npg.nn.tanh``),
``flat`` (one flat parameter vector for a tree of networks), ``blas`` (BLAS thread control),
``ppo_loop`` (PPO's whole inner loop compiled) and ``acting`` (one compiled call per
environment step). Importing it compiles nothing.
"""
