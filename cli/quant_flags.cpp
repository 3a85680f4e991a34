#include "quant_flags.h"

#include <cstdio>

#include "api_handles.h"
#include "clock.h"

namespace cli {

void QuantFlags::add_to(ArgParser& p) {
  axe_quantize_params& qp = params;
  p.add({"--calib"}, "FILE", "calibration text (optq, gpfq)", [&](auto&, auto& v) { calib_path = v; });
  p.add({"--calib-samples"}, "S", "calibration windows (default 128)",
        [&](auto& f, auto& v) { qp.calib_samples = static_cast<int32_t>(parse_int(f, v, 1, 1 << 20)); });
  p.add({"--calib-len"}, "L", "tokens per window (default 256)",
        [&](auto& f, auto& v) { qp.calib_len = static_cast<int32_t>(parse_int(f, v, 2, 1 << 20)); });
  p.add_switch({"--act-order"}, "quantize columns by descending Hessian diagonal (optq, gpfq)", [&] { qp.act_order = 1; });
  p.add({"--damp"}, "F", "damping, a fraction of mean(diag H) (default 0.01)",
        [&](auto& f, auto& v) { qp.damp = static_cast<float>(parse_float(f, v, 0, 10)); });
  p.add_switch({"--full-error"}, "AXE-OPTQ: feed back w - s*q instead of the clipped value's rounding error",
               [&] { qp.full_error = 1; });
  p.add({"-s", "--seed"}, "SEED", "calibration window seed (default 0)",
        [&](auto& f, auto& v) { qp.seed = static_cast<uint64_t>(parse_int(f, v, 0, INT64_MAX)); });
  p.add({"--wbits"}, "M", "weight bits, 2..8 (default 8)",
        [&](auto& f, auto& v) { qp.weight_bits = static_cast<int32_t>(parse_int(f, v, 2, 8)); });
  p.add({"--abits"}, "N", "activation bits, 2..8 (default 8)",
        [&](auto& f, auto& v) { qp.act_bits = static_cast<int32_t>(parse_int(f, v, 2, 8)); });
  p.add({"--act"}, "asym|sym", "activation codes: asymmetric u8 with zero point, or symmetric (default asym)",
        [&](auto& f, auto& v) {
          if (v != "asym" && v != "sym") throw UsageError("invalid value '" + v + "' for " + f + ": expected asym or sym");
          qp.act_signed = v == "sym";
          act_given_ = true;
        });
  p.add({"--group"}, "G",
        "one weight scale per G input columns (a multiple of 32; 32 with 8/4-bit weights is GGUF's Q8_0/Q4_0) "
        "instead of one per row; implies --act sym --act-group G and tiles = groups (contiguous, T = G)",
        [&](auto& f, auto& v) {
          qp.group = static_cast<int32_t>(parse_int(f, v, 32, 4096));
          if (qp.group % 32) throw UsageError("invalid value '" + v + "' for " + f + ": expected a multiple of 32");
        });
  p.add({"--act-group"}, "G",
        "with --group: one activation scale per G input columns (a multiple of the weight group), 0: per token "
        "(default: the weight group)",
        [&](auto& f, auto& v) {
          qp.act_group = static_cast<int32_t>(parse_int(f, v, 0, 1 << 20));
          act_group_given_ = true;
        });
  p.add({"--tile"}, "T", "columns per tile (contiguous) or lanes (lanes); default 16 lanes",
        [&](auto& f, auto& v) {
          qp.tile = static_cast<int32_t>(parse_int(f, v, 1, 1 << 20));
          plan_given_ = true;
        });
  p.add({"--rotate"}, "none|hadamard",
        "hadamard: rotate every linear layer's input by a block-diagonal Walsh-Hadamard matrix with random signs "
        "before quantizing (the norm gains folded into the weights; the transform runs at inference, O(K log K) per "
        "token); default none",
        [&](auto& f, auto& v) {
          if (v != "none" && v != "hadamard") throw UsageError("invalid value '" + v + "' for " + f + ": expected none or hadamard");
          rotate_ = v;
          qp.rotate = rotate_.c_str();
        });
  p.add({"--rotate-seed"}, "S", "seed of the rotation's signs, with --rotate hadamard (default 0)",
        [&](auto& f, auto& v) {
          qp.rotate_seed = static_cast<uint64_t>(parse_int(f, v, 0, INT64_MAX));
          rotate_seed_given_ = true;
        });
  p.add({"--wbits-output"}, "M", "the classifier's weight bits, 2..8 (default 8; under --axe and --ep-init the model's --wbits)",
        [&](auto& f, auto& v) {
          qp.output_bits = static_cast<int32_t>(parse_int(f, v, 2, 8));
          output_bits_given_ = true;
        });
  p.add_switch({"--keep-output-f32"},
               "keep the classifier and the embedding in fp32 (by default the classifier is quantized and certified "
               "like the other layers, and the embedding is stored as 8-bit rows)",
               [&] { qp.keep_output_f32 = 1; });
  p.add({"--plan"}, "contiguous|lanes", "tile partition (default lanes)", [&](auto& f, auto& v) {
    if (v != "contiguous" && v != "lanes") throw UsageError("invalid value '" + v + "' for " + f + ": expected contiguous or lanes");
    qp.tiles = v == "lanes" ? AXE_TILES_LANES : AXE_TILES_CONTIGUOUS;
    plan_given_ = true;
  });
}

void QuantFlags::apply_group_defaults() {
  if (!params.group) {
    if (act_group_given_) throw UsageError("--act-group needs --group G");
    return;
  }
  if (!act_given_) params.act_signed = 1;
  if (!params.act_signed) throw UsageError("--group needs symmetric activations (--act sym): the groupwise kernels have no zero point");
  if (!act_group_given_) params.act_group = params.group;
  if (plan_given_ && (params.tiles != AXE_TILES_CONTIGUOUS || params.tile != params.group))
    throw UsageError("with --group " + std::to_string(params.group) + " the tiles are the groups (--plan contiguous --tile " +
                     std::to_string(params.group) + ", the default)");
  params.tiles = AXE_TILES_CONTIGUOUS;
  params.tile = params.group;
}

void QuantFlags::check() const {
  if (rotate_seed_given_ && rotate_ != "hadamard") throw UsageError("--rotate-seed needs --rotate hadamard");
  if (output_bits_given_ && params.keep_output_f32)
    throw UsageError("--wbits-output and --keep-output-f32 are alternatives");
}

void QuantFlags::load_calibration(const std::string& algo) {
  if (algo == "rtn") return;
  if (calib_path.empty()) throw UsageError("--algo " + algo + " needs --calib FILE");
  if (calib_text_.empty()) calib_text_ = read_file(calib_path);
  params.calib_text = calib_text_.data();
  params.calib_text_len = calib_text_.size();
}

void QuantFlags::show_progress() {
  t0_ = now_seconds();
  params.progress = [](float done, void* u) {
    const double el = now_seconds() - static_cast<QuantFlags*>(u)->t0_;
    std::fprintf(stderr, "\rquantize: %5.1f%%  %.1f s elapsed, ETA %.1f s   ", 100.0 * done, el,
                 done > 0 ? el * (1 - done) / done : 0.0);
    return 1;
  };
  params.progress_user_data = this;
}

}  // namespace cli
