// The input is a .axe file (safetensors container, docs/FORMAT.md):
// axe_model_load (embedded tokenizer) and axe_verify; when both succeed the
// model decodes a few tokens with n_ctx = 16 on the exact kernels and on an
// emulated 16/32-bit datapath. Odd-sized inputs are mapped, even-sized ones
// copied.
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  axe_fuzz::TempFile file("model.axe", data, size);
  axe_verify_result vr{};
  vr.struct_size = sizeof vr;
  const axe_status vst = axe_verify(file.c_str(), &vr);
  axe_fuzz::check_status(vst, "axe_verify");
  axe_model_params mp = axe_model_default_params();
  mp.use_mmap = static_cast<int32_t>(size & 1);
  axe_model* model = nullptr;
  const axe_status st = axe_model_load(file.c_str(), &mp, &model);
  axe_fuzz::check_status(st, "axe_model_load");
  if (st == AXE_OK) {
    if (vst == AXE_OK) {
      axe_fuzz::decode_smoke(model);
      axe_fuzz::decode_smoke(model, 16, 32);
    }
    axe_model_free(model);
  }
  return 0;
}
