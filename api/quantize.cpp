// C API: quantization and verification.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "api/internal.h"
#include "models/formats/axe_verify.h"
#include "models/formats/gguf_verify.h"
#include "quant/quantize_model.h"
#include "runtime/threads.h"

using axe::fail;

extern "C" {

AXE_API axe_quantize_params axe_quantize_default_params(void) {
  axe_quantize_params p{};
  p.struct_size = sizeof(p);
  p.algo = "rtn";
  p.axe = 0;
  p.weight_bits = 8;
  p.act_bits = 8;
  p.act_signed = 0;
  p.tiles = AXE_TILES_LANES;
  p.tile = 16;
  p.inner_bits = 32;
  p.outer_bits = 32;
  p.n_threads = 0;
  p.calib_samples = 128;
  p.calib_len = 256;
  p.damp = 0.01f;
  return p;
}

AXE_API axe_status axe_quantize(axe_model* model, const char* out_path, const axe_quantize_params* params) {
  if (!model) return AXE_ERR_INVALID_ARGUMENT;
  return axe::guarded(&model->error, [&] {
    if (!out_path) fail(AXE_ERR_INVALID_ARGUMENT, "axe_quantize: out_path is NULL");
    const axe_quantize_params p = axe::read_params(params, axe_quantize_default_params());
    if (p.tiles != AXE_TILES_CONTIGUOUS && p.tiles != AXE_TILES_LANES) fail(AXE_ERR_INVALID_ARGUMENT, "axe_quantize: bad tile kind");
    if (p.tile <= 0 || p.inner_bits <= 0 || p.outer_bits <= 0) fail(AXE_ERR_INVALID_ARGUMENT, "axe_quantize: tile and widths must be positive");
    axe::QuantizeOptions o;
    o.algo = axe::parse_algorithm(p.algo ? p.algo : "rtn");
    if ((p.axe != 0) + (p.naive != 0) + (p.ep_init != 0) + (p.search != 0) > 1)
      fail(AXE_ERR_INVALID_ARGUMENT, "--axe, --naive, --ep-init and --search are alternatives");
    o.constraint = p.axe       ? axe::Constraint::kAxe
                   : p.naive   ? axe::Constraint::kNaive
                   : p.ep_init ? axe::Constraint::kEpInit
                   : p.search  ? axe::Constraint::kSearch
                               : axe::Constraint::kNone;
    // "auto" is the best target here, never AXE_TARGET: the environment does
    // not change a quantized file.
    if (p.target && *p.target && std::strcmp(p.target, "auto") != 0) o.target = axe::choose_target(p.target);
    o.format.weight_bits = p.weight_bits;
    o.format.act_bits = p.act_bits;
    o.format.act_signed = p.act_signed != 0;
    o.format.plan = {p.tiles == AXE_TILES_LANES ? axe::TileKind::kLanes : axe::TileKind::kContiguous,
                     static_cast<uint32_t>(p.tile), static_cast<uint32_t>(p.inner_bits),
                     static_cast<uint32_t>(p.outer_bits)};
    if (p.group < 0 || p.act_group < 0) fail(AXE_ERR_INVALID_ARGUMENT, "axe_quantize: group sizes must be >= 0");
    o.format.group = static_cast<uint32_t>(p.group);
    o.format.act_group = static_cast<uint32_t>(p.act_group);
    // The default partition (16 lanes) becomes the groups themselves; any
    // other is checked against them (QuantFormat::group_invalid_reason).
    if (p.group > 0 && p.tiles == AXE_TILES_LANES && p.tile == 16)
      o.format.plan = {axe::TileKind::kContiguous, static_cast<uint32_t>(p.group), o.format.plan.inner_bits,
                       o.format.plan.outer_bits};
    o.threads = p.n_threads > 0 ? p.n_threads : axe::physical_core_count();
    if (o.algo != axe::Algorithm::kRtn) {
      if (!p.calib_text || p.calib_text_len == 0)
        fail(AXE_ERR_INVALID_ARGUMENT, std::string("axe_quantize: ") + axe::algorithm_name(o.algo) + " needs calibration text");
      if (p.calib_samples <= 0 || p.calib_len < 2) fail(AXE_ERR_INVALID_ARGUMENT, "axe_quantize: bad calibration sizes");
      if (!(p.damp >= 0.0f) || p.damp > 10.0f) fail(AXE_ERR_INVALID_ARGUMENT, "axe_quantize: damp must be in [0, 10]");
      o.calib.text.assign(p.calib_text, p.calib_text_len);
      o.calib.samples = static_cast<size_t>(p.calib_samples);
      o.calib.len = static_cast<size_t>(p.calib_len);
      o.calib.seed = p.seed;
      o.optq.damp = p.damp;
      o.optq.act_order = o.gpfq.act_order = p.act_order != 0;
      o.optq.full_error = p.full_error != 0;
    }
    // A caller built before keep_output_f32 existed keeps the files it used
    // to get: classifier and embedding in fp32.
    const bool knows_output = params && params->struct_size >= offsetof(axe_quantize_params, keep_output_f32) +
                                                                 sizeof(params->keep_output_f32);
    o.keep_output_f32 = p.keep_output_f32 != 0 || (params && !knows_output);
    o.output_bits = p.output_bits != 0 ? p.output_bits
                    : (o.constraint == axe::Constraint::kAxe || o.constraint == axe::Constraint::kEpInit)
                        ? p.weight_bits
                        : 8;
    if (p.rotate && *p.rotate && std::strcmp(p.rotate, "none") != 0) {
      if (std::strcmp(p.rotate, "hadamard") != 0)
        fail(AXE_ERR_INVALID_ARGUMENT, std::string("axe_quantize: unknown rotation '") + p.rotate + "' (none or hadamard)");
      if (p.rotate_seed > static_cast<uint64_t>(INT64_MAX))
        fail(AXE_ERR_INVALID_ARGUMENT, "axe_quantize: rotate_seed must be at most 2^63-1");
      o.rotate_seed = p.rotate_seed;
    }
    if (p.progress)
      o.progress = [&](size_t done, size_t total, const std::string&) {
        return p.progress(static_cast<float>(done) / static_cast<float>(total), p.progress_user_data) != 0;
      };
    axe::quantize_model(*model->model, o, out_path);
  });
}

AXE_API axe_status axe_verify(const char* path, axe_verify_result* result) {
  std::string err;
  const axe_status st = axe::guarded(&err, [&] {
    if (!path || !result) fail(AXE_ERR_INVALID_ARGUMENT, "axe_verify: NULL path or result");
    if (result->struct_size < sizeof(size_t)) fail(AXE_ERR_INVALID_ARGUMENT, "axe_verify: result.struct_size is not set");
    const axe::VerifyReport v = axe::verify_axe_file(path);
    axe_verify_result r{};
    r.struct_size = sizeof(r);
    r.layers = v.layers;
    r.rows = v.rows;
    r.tiles = v.tiles;
    r.inner_violations = v.inner_violations;
    r.outer_violations = v.outer_violations;
    r.worst_inner_use = v.worst_inner_use;
    r.worst_outer_use = v.worst_outer_use;
    r.certificate_matches = v.certificate_matches ? 1 : 0;
    std::snprintf(r.plan, sizeof r.plan, "%s", v.plan.c_str());
    std::snprintf(r.first_violation, sizeof r.first_violation, "%s", v.first_violation.c_str());
    std::snprintf(r.rotation, sizeof r.rotation, "%s", v.rotation.c_str());
    axe::write_versioned(result, r);
  });
  if (st != AXE_OK) axe::set_thread_error(err);
  return st;
}

AXE_API axe_status axe_verify_gguf(const char* path, uint32_t inner_bits, int act_bits, int act_signed,
                                   axe_gguf_check_result* result, axe_gguf_tensor_check* tensors, size_t capacity,
                                   size_t* n_tensors) {
  std::string err;
  axe_status status = AXE_OK;
  const axe_status st = axe::guarded(&err, [&] {
    if (!path || !result || !n_tensors || (!tensors && capacity))
      fail(AXE_ERR_INVALID_ARGUMENT, "axe_verify_gguf: NULL path, result, tensors or n_tensors");
    if (result->struct_size < sizeof(size_t))
      fail(AXE_ERR_INVALID_ARGUMENT, "axe_verify_gguf: result.struct_size is not set");
    if (act_bits < 2 || act_bits > 8) fail(AXE_ERR_INVALID_ARGUMENT, "axe_verify_gguf: act_bits must be in [2, 8]");
    const axe::GgufCheckReport v =
        axe::verify_gguf_file(path, inner_bits, axe::ActivationRange::of(act_bits, act_signed != 0));
    axe_gguf_check_result r{};
    r.struct_size = sizeof(r);
    r.tensors_checked = v.checked;
    r.tensors_skipped = v.skipped;
    r.blocks = v.blocks;
    r.overflowing_blocks = v.overflowing_blocks;
    r.min_inner_bits = v.min_inner_bits;
    axe::write_versioned(result, r);
    *n_tensors = v.tensors.size();
    for (size_t i = 0; i < v.tensors.size() && i < capacity; ++i) {
      const axe::GgufTensorCheck& c = v.tensors[i];
      axe_gguf_tensor_check& o = tensors[i];
      o = axe_gguf_tensor_check{};
      std::snprintf(o.name, sizeof o.name, "%s", c.name.c_str());
      std::snprintf(o.type, sizeof o.type, "%s", c.type.c_str());
      std::snprintf(o.note, sizeof o.note, "%s", c.note.c_str());
      o.checked = c.checked ? 1 : 0;
      o.rows = c.rows;
      o.blocks = c.blocks;
      o.overflowing_blocks = c.overflowing_blocks;
      o.worst_magnitude = c.worst_magnitude;
      o.min_inner_bits = c.min_inner_bits;
    }
    if (v.tensors.size() > capacity) {
      err = "axe_verify_gguf: " + std::to_string(v.tensors.size()) + " tensors do not fit in " + std::to_string(capacity);
      status = AXE_ERR_BUFFER_TOO_SMALL;
    }
  });
  if (st != AXE_OK || status != AXE_OK) axe::set_thread_error(err);
  return st != AXE_OK ? st : status;
}

}  // extern "C"
