// What the C API handles hold, and the exception-to-status boundary.
#pragma once
#include <tbb/task_arena.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "axe/axe.h"
#include "models/llama/forward.h"
#include "models/llama/model.h"
#include "runtime/linear_emulated.h"
#include "runtime/error.h"
#include "runtime/ops/ops.h"
#include "runtime/sampler.h"

struct axe_model {
  std::unique_ptr<axe::LlamaModel> model;
  mutable std::string error;
};

namespace axe {
class LinearEmulated;
}

struct axe_context {
  axe_model* model = nullptr;
  // The model as this context runs it, when that differs from the loaded one:
  // a quantized model's integer layers with the kernels chosen for this
  // context's target, or, with an emulated datapath, layers emulating over
  // the shared integer weights (`sim_layers`).
  std::unique_ptr<axe::LlamaModel> view;
  std::vector<const axe::LinearEmulated*> sim_layers;
  bool emulated = false;
  const axe::LlamaModel& forward_model() const { return view ? *view : *model->model; }
  const axe::Ops* ops = nullptr;
  int n_threads = 1;
  std::unique_ptr<tbb::task_arena> arena;
  std::unique_ptr<axe::LlamaState> state;
  size_t n_past = 0;
  std::vector<float> logits;        // rows of the last axe_decode
  std::vector<int32_t> logits_row;  // batch index -> row, -1 when not computed
  std::string error;
};

struct axe_sampler {
  axe::Sampler sampler;
  std::string error;
};

namespace axe {

void set_thread_error(const std::string& message);

// Runs fn; turns any exception into a status and stores its message in *err.
template <typename Fn>
axe_status guarded(std::string* err, Fn&& fn) {
  try {
    fn();
    return AXE_OK;
  } catch (const Error& e) {
    if (err) *err = e.what();
    return e.status();
  } catch (const std::bad_alloc&) {
    if (err) *err = "out of memory";
    return AXE_ERR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    if (err) *err = std::string("internal error: ") + e.what();
    return AXE_ERR_INTERNAL;
  } catch (...) {
    if (err) *err = "internal error";
    return AXE_ERR_INTERNAL;
  }
}

// The body of a *_create / *_load function: make() builds the new handle
// (or throws). On success *out gets it; on failure *out is NULL (when out is
// not) and the thread's last error (axe_last_error) holds the message.
template <typename H, typename Make>
axe_status create_handle(H** out, const char* null_out_message, Make&& make) {
  std::string err;
  std::unique_ptr<H> result;
  const axe_status st = guarded(&err, [&] {
    if (!out) fail(AXE_ERR_INVALID_ARGUMENT, null_out_message);
    *out = nullptr;
    result.reset(make());
  });
  if (st != AXE_OK) {
    set_thread_error(err);
    return st;
  }
  *out = result.release();
  return AXE_OK;
}

// Reads a versioned params struct: the caller's bytes over our defaults, so
// an older (smaller) struct keeps defaults for the fields it does not know.
template <typename P>
P read_params(const P* user, P defaults) {
  if (!user) return defaults;
  const size_t size = user->struct_size;
  if (size < sizeof(size_t) || size > (size_t{1} << 16))
    fail(AXE_ERR_INVALID_ARGUMENT, "params.struct_size is not set (start from the *_default_params() function)");
  std::memcpy(static_cast<void*>(&defaults), user, std::min(size, sizeof(P)));
  defaults.struct_size = sizeof(P);
  return defaults;
}

// Writes a versioned result struct into the caller's, up to the size the
// caller's struct declares (an older, smaller struct gets its known fields).
// struct_size then says how much was written, never more than the caller's
// own size, so a caller that reuses the struct stays within it.
template <typename R>
void write_versioned(R* user, const R& result) {
  const size_t size = std::min(user->struct_size, sizeof(R));
  std::memcpy(static_cast<void*>(user), &result, size);
  user->struct_size = size;
}

}  // namespace axe
