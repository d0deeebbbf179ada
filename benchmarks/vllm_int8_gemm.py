"""vLLM CPU's int8 GEMM (oneDNN, what it runs W8A8 variants with) against exact integer arithmetic on the same
int8 inputs; run with the vLLM environment's Python: `.venv-vllm/bin/python benchmarks/vllm_int8_gemm.py`.

On a CPU without VNNI, oneDNN sums pairs of u8 x s8 products in int16 (vpmaddubsw), which saturates once
|weight| > 63 with the shifted activations: the error vanishes when the weights are kept within +-63. This is
why bench/models/vllm_formats.py refuses W8A8 int8 variants on such CPUs.
"""

import torch
from vllm import _custom_ops as ops
from vllm.platforms import current_platform


def main() -> None:
    current_platform.import_kernels()
    print(f"VNNI: {torch.cpu._is_vnni_supported()}, AVX-512: {torch.cpu._is_avx512_supported()}")
    torch.manual_seed(0)
    m, k, n = 16, 256, 256
    x = torch.randn(m, k)
    for limit in (127, 63):
        w = torch.randint(-limit, limit + 1, (n, k), dtype=torch.int8)
        ws = torch.full((n, 1), 0.01)
        handler = ops.create_onednn_scaled_mm(w.t(), ws, torch.float32, True, False, 32)
        x_q, x_s, x_zp = ops.onednn_scaled_int8_quant(x, None, None, True)
        out = torch.empty((m, n))
        ops.onednn_scaled_mm(handler, x_q, out, x_s, x_zp, None, None)
        exact = (x_q.to(torch.int64) @ w.to(torch.int64).t()).double() * x_s.double() * ws.t().double()
        rel = ((out.double() - exact).abs().max() / exact.abs().max()).item()
        print(f"|w| <= {limit}: max relative error of oneDNN's int8 GEMM against exact integers {rel:.2e}")


if __name__ == "__main__":
    main()
