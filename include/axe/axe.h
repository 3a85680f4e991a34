/*
 * axe — CPU inference for Llama-style models. The stable C API.
 *
 * Conventions
 *  - Handles are opaque. Every object made by axe_*_create / axe_model_load is
 *    released by the matching *_free (which accepts NULL).
 *  - Functions that can fail return axe_status. On failure the handle's last
 *    error message says what went wrong (axe_model_last_error, ...); failures
 *    that have no handle yet (loading, creating) set a thread-local message
 *    read with axe_last_error().
 *  - Parameter structs carry their own size in their first field so that the
 *    library can grow them without breaking old callers: always start from
 *    axe_*_default_params().
 *  - Buffers: functions that fill a caller buffer return AXE_ERR_BUFFER_TOO_SMALL
 *    and store the required size when the buffer is too small.
 *  - Threads: one context is used by one thread at a time. A model can be
 *    shared by several contexts.
 */
#ifndef AXE_AXE_H
#define AXE_AXE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AXE_VERSION_MAJOR 0
#define AXE_VERSION_MINOR 1
#define AXE_VERSION_PATCH 0
#define AXE_VERSION_STRING "0.1.0"

#if defined(AXE_BUILDING_LIBRARY)
#define AXE_API __attribute__((visibility("default")))
#else
#define AXE_API
#endif

typedef int32_t axe_token;

typedef enum axe_status {
  AXE_OK = 0,
  AXE_ERR_INVALID_ARGUMENT = 1, /* a NULL handle, a bad parameter value      */
  AXE_ERR_IO = 2,               /* a file could not be opened, read, written */
  AXE_ERR_FORMAT = 3,           /* a file is damaged, truncated, inconsistent */
  AXE_ERR_OUT_OF_MEMORY = 4,
  AXE_ERR_BUFFER_TOO_SMALL = 5, /* the required size was stored              */
  AXE_ERR_ABORTED = 6,          /* a progress callback asked to stop          */
  AXE_ERR_CONTEXT_FULL = 7,     /* positions beyond the context size          */
  AXE_ERR_UNSUPPORTED = 8,      /* e.g. a forced SIMD target this CPU lacks   */
  AXE_ERR_INTERNAL = 9,
  AXE_ERR_NUMERIC = 10          /* a weight or activation is NaN or infinite:
                                   the message names the tensor or layer    */
} axe_status;

/* A short constant name for a status ("AXE_ERR_FORMAT"). */
AXE_API const char *axe_status_string(axe_status status);
/* Library version string, e.g. "0.1.0". */
AXE_API const char *axe_version(void);

/* ---- Logging ------------------------------------------------------------ */
typedef enum axe_log_level {
  AXE_LOG_DEBUG = 0,
  AXE_LOG_INFO = 1,
  AXE_LOG_WARN = 2,
  AXE_LOG_ERROR = 3
} axe_log_level;
typedef void (*axe_log_callback)(axe_log_level level, const char *message, void *user_data);
/* Process-wide. NULL restores the default (messages of level WARN and above
 * to stderr). Messages carry no trailing newline. */
AXE_API void axe_set_log_callback(axe_log_callback callback, void *user_data);

/* Long work (loading, perplexity) reports progress in [0, 1]; returning 0
 * from the callback aborts the work with AXE_ERR_ABORTED. */
typedef int (*axe_progress_callback)(float progress, void *user_data);

/* Thread-local message of the last failure that had no handle to hold it. */
AXE_API const char *axe_last_error(void);

/* ---- Model -------------------------------------------------------------- */
typedef struct axe_model axe_model;

typedef struct axe_model_params {
  size_t struct_size;             /* sizeof(axe_model_params)              */
  const char *tokenizer_path;     /* NULL: the tokenizer.bin or the single
                                     tok*.bin beside the model             */
  axe_progress_callback progress; /* may be NULL                           */
  void *progress_user_data;
  int32_t use_mmap;               /* 1: use the file's pages in place (zero
                                     copy, shared between processes); 0
                                     (default): read the weights into memory
                                     backed by huge pages, which decodes
                                     faster                                */
} axe_model_params;

AXE_API axe_model_params axe_model_default_params(void);
/* Loads a llama2.c checkpoint (legacy or v1 format). Every size and offset is
 * checked against the file; a damaged file gives AXE_ERR_FORMAT and a message
 * naming the file and the problem. */
AXE_API axe_status axe_model_load(const char *path, const axe_model_params *params, axe_model **out_model);
AXE_API void axe_model_free(axe_model *model);
AXE_API const char *axe_model_last_error(const axe_model *model);

typedef struct axe_model_info {
  size_t struct_size;
  int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, n_vocab, n_ctx_train;
  int32_t shared_classifier; /* 1 when the output layer is the embedding      */
  uint64_t n_params;         /* number of weights                             */
  uint64_t size_bytes;       /* bytes of weights                              */
  char description[128];     /* e.g. "llama 260K F32"                         */
  /* Weight bytes one generated token reads: every linear layer (classifier
   * included), the norm gains and one row of the embedding table; the whole
   * table when the classifier is the embedding. Not the KV cache, which
   * grows with the position. Decode t/s x decode_bytes is the weight read
   * bandwidth decoding achieves.                                            */
  uint64_t decode_bytes;
} axe_model_info;
AXE_API axe_status axe_model_get_info(const axe_model *model, axe_model_info *info);

/* BOS and EOS of the model's vocabulary (-1 when it has none). */
AXE_API axe_token axe_token_bos(const axe_model *model);
AXE_API axe_token axe_token_eos(const axe_model *model);
/* 1 when the model's text starts with BOS (tokenizer_config.json's
 * add_bos_token; always for llama2.c models), else 0. */
AXE_API int axe_model_adds_bos(const axe_model *model);
/* 1 when `token` ends a turn: EOS, every eos_token_id of the model's folder,
 * end-of-turn tokens such as <|eot_id|>. */
AXE_API int axe_token_is_stop(const axe_model *model, axe_token token);
/* The ids that end a turn, ascending; on AXE_ERR_BUFFER_TOO_SMALL *n_ids
 * holds the count needed. */
AXE_API axe_status axe_model_stop_ids(const axe_model *model, axe_token *ids, size_t capacity, size_t *n_ids);

/* Tokenizes `text_len` bytes with the model's tokenizer (SentencePiece BPE
 * with byte fallback, or a tokenizer.json BPE). Special tokens written in the
 * text are plain text. On AXE_ERR_BUFFER_TOO_SMALL, *n_tokens holds the count
 * needed. */
AXE_API axe_status axe_tokenize(const axe_model *model, const char *text, size_t text_len, int add_bos,
                                axe_token *tokens, size_t capacity, size_t *n_tokens);
/* axe_tokenize, and with parse_special != 0 special tokens written in the text
 * ("<|eot_id|>", "<s>") become their ids, as a chat template needs. */
AXE_API axe_status axe_tokenize_special(const axe_model *model, const char *text, size_t text_len, int add_bos,
                                        int parse_special, axe_token *tokens, size_t capacity, size_t *n_tokens);
/* The bytes of one token as they follow `prev` (prev = BOS strips a leading
 * space; byte tokens <0xNN> give the byte). Not NUL-terminated. */
AXE_API axe_status axe_token_to_piece(const axe_model *model, axe_token prev, axe_token token, char *buf,
                                      size_t capacity, size_t *n_bytes);
/* The token's text as its vocabulary spells it ("<s>", "<|eot_id|>", "\xe2\x96\x81the"),
 * NUL-terminated when room allows; *n_bytes is its length. */
AXE_API axe_status axe_token_get_text(const axe_model *model, axe_token token, char *buf, size_t capacity,
                                      size_t *n_bytes);
/* Decodes a whole sequence to bytes (NUL-terminated when room allows; the
 * count excludes the NUL). */
AXE_API axe_status axe_detokenize(const axe_model *model, const axe_token *tokens, size_t n_tokens, char *buf,
                                  size_t capacity, size_t *n_bytes);

/* ---- Chat templates -------------------------------------------------------- */
typedef struct axe_chat_message {
  const char *role; /* "system", "user" or "assistant" */
  const char *content;
} axe_chat_message;

/* The model's own chat template (its Jinja source from tokenizer_config.json),
 * or "" when it has none. Valid while the model lives. */
AXE_API const char *axe_model_chat_template(const axe_model *model);
/* Formats messages as the template would (as llama_chat_apply_template does,
 * without a Jinja engine: the template's family is recognised and rendered
 * exactly). `tmpl`: NULL for the model's template, a family name ("llama3",
 * "chatml", "llama2", "mistral-v1", "mistral-v3", "mistral-v7", "zephyr",
 * "gemma", "phi3", ...) or a Jinja source. add_assistant != 0 appends the
 * start of the assistant's turn. Writes the text (NUL-terminated when room
 * allows); *n_bytes is its length, also on AXE_ERR_BUFFER_TOO_SMALL.
 * AXE_ERR_UNSUPPORTED when the template is not one axe recognises. The text
 * holds the template's special tokens (and BOS when the template writes it):
 * tokenize it with axe_tokenize_special(..., add_bos = 0 when the text
 * already starts with BOS, parse_special = 1). */
AXE_API axe_status axe_chat_apply_template(const axe_model *model, const char *tmpl, const axe_chat_message *messages,
                                           size_t n_messages, int add_assistant, char *buf, size_t capacity,
                                           size_t *n_bytes);
/* The names axe_chat_apply_template accepts, comma-separated. */
AXE_API const char *axe_chat_template_names(void);

/* ---- Context (KV cache, scratch, threads) -------------------------------- */
typedef struct axe_context axe_context;

typedef struct axe_context_params {
  size_t struct_size;
  uint32_t n_ctx;     /* 0: the model's training context                    */
  uint32_t n_batch;   /* largest batch given to axe_decode (default 512)   */
  int32_t n_threads;  /* <= 0: the number of physical cores                */
  const char *target; /* NULL or "auto": best for this CPU; "avx512-vnni",
                         "avx512", "avx2", "scalar" force one. The
                         environment variable AXE_TARGET overrides "auto". */
  /* Emulated narrow datapath for a quantized (.axe) model: inner/outer
   * accumulator widths (0: off, run the exact kernels) and 1 to saturate
   * instead of wrapping. Overflows are counted per layer. */
  int32_t acc_sim_inner_bits;
  int32_t acc_sim_outer_bits;
  int32_t acc_sim_saturate;
} axe_context_params;

AXE_API axe_context_params axe_context_default_params(void);
AXE_API axe_status axe_context_create(axe_model *model, const axe_context_params *params, axe_context **out_ctx);
AXE_API void axe_context_free(axe_context *ctx);
AXE_API const char *axe_context_last_error(const axe_context *ctx);
AXE_API uint32_t axe_context_n_ctx(const axe_context *ctx);
AXE_API int32_t axe_context_n_threads(const axe_context *ctx);
/* The SIMD target this context runs ("avx512", "avx2", ...). */
AXE_API const char *axe_context_target(const axe_context *ctx);

/* Runs `n_tokens` tokens at positions pos[0..n). Positions must be
 * consecutive (pos[i] = pos[0] + i) and pos[0] may not exceed the number of
 * positions already in the cache: decoding at an earlier position forgets
 * everything from there on. `want_logits` (may be NULL: only the last token)
 * says for which tokens logits are computed. n_tokens may exceed n_batch:
 * the batch is split. */
AXE_API axe_status axe_decode(axe_context *ctx, const axe_token *tokens, const int32_t *pos, size_t n_tokens,
                              const int8_t *want_logits);
/* Logits (n_vocab floats) of batch index i of the last axe_decode call, or
 * NULL (with the error set) if they were not requested. i = -1: the last. */
AXE_API const float *axe_get_logits(axe_context *ctx, int32_t i);
/* Number of positions held in the KV cache. */
AXE_API uint32_t axe_context_n_past(const axe_context *ctx);
/* Forgets every position (same as decoding at position 0 next). */
AXE_API void axe_context_reset(axe_context *ctx);

/* Overflow counts of an emulated datapath (acc_sim_*), one entry per linear
 * layer, counted since the context was created. AXE_ERR_BUFFER_TOO_SMALL
 * stores the number of layers; AXE_ERR_INVALID_ARGUMENT when no emulation. */
typedef struct axe_overflow_report {
  char layer[64];           /* e.g. "layers.0.attention.wq"                  */
  uint64_t inner_overflows; /* steps at which a tile accumulator overflowed  */
  uint64_t outer_overflows; /* steps at which the row accumulator overflowed */
  uint64_t dot_products;
} axe_overflow_report;
AXE_API axe_status axe_context_overflows(const axe_context *ctx, axe_overflow_report *reports, size_t capacity,
                                         size_t *n_layers);

/* ---- Sampler ------------------------------------------------------------ */
typedef struct axe_sampler axe_sampler;

typedef struct axe_sampler_params {
  size_t struct_size;
  float temperature; /* <= 0: greedy (argmax)                              */
  int32_t top_k;     /* <= 0: off                                          */
  float top_p;       /* >= 1: off                                          */
  uint64_t seed;
} axe_sampler_params;

AXE_API axe_sampler_params axe_sampler_default_params(void);
AXE_API axe_status axe_sampler_create(const axe_sampler_params *params, axe_sampler **out_sampler);
AXE_API void axe_sampler_free(axe_sampler *sampler);
AXE_API const char *axe_sampler_last_error(const axe_sampler *sampler);
AXE_API axe_status axe_sampler_sample(axe_sampler *sampler, const float *logits, int32_t n_vocab, axe_token *out);

/* ---- Perplexity --------------------------------------------------------- */
typedef enum axe_score_mode {
  AXE_SCORE_HALF = 0, /* llama.cpp llama-perplexity: BOS in place of each
                         chunk's first token, its second half scored      */
  AXE_SCORE_ALL = 1,  /* GPTQ: each chunk as the text has it (BOS only at
                         the text's start), every token but the first     */
  AXE_SCORE_MODE_MAX_ = 0x7fffffff /* keeps the enum 32-bit; not a mode */
} axe_score_mode;

typedef void (*axe_chunk_callback)(int32_t chunk_index, int32_t n_chunks, double running_ppl, void *user_data);

/* KL divergence against a base model, with llama.cpp's file of base
 * log-probabilities (llama-perplexity --kl-divergence-base), so one base file
 * scores axe's and llama.cpp's models alike. Both modes use score HALF. */
typedef enum axe_kld_mode {
  AXE_KLD_OFF = 0,
  AXE_KLD_WRITE_BASE = 1, /* also write the scored tokens' log-probabilities
                             to kld_base                                    */
  AXE_KLD_SCORE = 2,      /* score against kld_base: its tokens, n_ctx and
                             chunks are used (text may be NULL)             */
  AXE_KLD_MODE_MAX_ = 0x7fffffff
} axe_kld_mode;

typedef struct axe_perplexity_params {
  size_t struct_size;
  uint32_t n_ctx;     /* chunk length in tokens; 0: min(512, context)       */
  int32_t n_chunks;   /* <= 0: every whole chunk of the text                */
  axe_score_mode score;
  axe_chunk_callback on_chunk; /* called in chunk order; may be NULL         */
  void *on_chunk_user_data;
  axe_progress_callback progress;
  void *progress_user_data;
  axe_kld_mode kld;
  const char *kld_base;  /* the base file (AXE_KLD_WRITE_BASE, AXE_KLD_SCORE) */
} axe_perplexity_params;

typedef struct axe_perplexity_result {
  size_t struct_size;
  double ppl;          /* exp(mean negative log-likelihood)                 */
  double ppl_error;    /* its standard error, as llama-perplexity gives it  */
  int32_t n_chunks;
  uint32_t n_ctx;
  uint64_t n_tokens_text;   /* tokens of the whole text (with BOS)          */
  uint64_t n_tokens_scored;
  /* AXE_KLD_SCORE: this model (Q) against the base, computed and named as
   * llama-perplexity --kl-divergence reports them; ppl above is PPL(Q).
   * Probabilities are fractions (llama.cpp prints percent).                */
  double ppl_base, ppl_base_error;
  double cor_ln_ppl;                       /* Cor(ln PPL(Q), ln PPL(base)) */
  double ln_ppl_ratio, ln_ppl_ratio_error; /* mean ln(PPL(Q)/PPL(base))    */
  double kld_mean, kld_mean_error;
  double kld_quantiles[11]; /* max, 99.9%, 99%, 95%, 90%, median, 10%, 5%,
                               1%, 0.1%, min                                */
  double dp_mean, dp_mean_error; /* Δp: p(correct token) of Q minus base's  */
  double dp_quantiles[13];  /* max, 99.9%, 99%, 95%, 90%, 75%, median, 25%,
                               10%, 5%, 1%, 0.1%, min                       */
  double dp_rms, dp_rms_error;
  double same_top, same_top_error; /* the top token is the base's          */
  double ln_ppl_cov;               /* Cov(ln PPL(Q), ln PPL(base))         */
} axe_perplexity_result;

AXE_API axe_perplexity_params axe_perplexity_default_params(void);
/* Tokenizes the text once with BOS, splits it into chunks of n_ctx tokens
 * and scores them under params.score (or, with AXE_KLD_SCORE, the base
 * file's chunks against its log-probabilities). Chunks run in parallel on the
 * context's threads; the result does not depend on the thread count. Uses
 * the context's model and threads, not its KV cache. */
AXE_API axe_status axe_perplexity(axe_context *ctx, const char *text, size_t text_len,
                                  const axe_perplexity_params *params, axe_perplexity_result *result);

/* ---- Quantization and verification ------------------------------------- */
typedef enum axe_tile_kind {
  AXE_TILES_CONTIGUOUS = 0, /* tile of column k is k / tile (the paper's T)      */
  AXE_TILES_LANES = 1,      /* tile of column k is (k / 2) % tile: the columns one
                               int16 lane of a vpmaddubsw kernel sums            */
  AXE_TILE_KIND_MAX_ = 0x7fffffff
} axe_tile_kind;

typedef struct axe_quantize_params {
  size_t struct_size;
  const char *algo;      /* "rtn" (round to nearest), "optq" (GPTQ) or "gpfq"
                            (both need calibration text); scales are
                            per-row MSE                                    */
  int32_t axe;           /* 1: enforce the accumulation plan (AXE)            */
  int32_t weight_bits;   /* M, 2..8 (<= 4 packs two codes per byte)           */
  int32_t act_bits;      /* N, 2..8                                           */
  int32_t act_signed;    /* 0: asymmetric u8 codes, 1: symmetric signed codes */
  axe_tile_kind tiles;
  int32_t tile;          /* T columns, or lanes                               */
  int32_t inner_bits;    /* P_I                                               */
  int32_t outer_bits;    /* P_O                                               */
  int32_t n_threads;     /* <= 0: physical cores                              */
  axe_progress_callback progress;
  void *progress_user_data;
  /* optq, gpfq */
  const char *calib_text;  /* calibration text (UTF-8)                       */
  size_t calib_text_len;
  int32_t calib_samples;   /* windows (default 128)                          */
  int32_t calib_len;       /* tokens per window (default 256)                */
  uint64_t seed;           /* window positions                               */
  float damp;              /* fraction of mean(diag H) (default 0.01)        */
  int32_t act_order;       /* 1: quantize columns by descending diag(H)      */
  int32_t full_error;      /* AXE: feed back w - s*q, not (clipped v) - s*q  */
  int32_t naive;           /* baseline: lower act, then weight bits until the
                              data-type bound of the largest tile fits P_I   */
  int32_t ep_init;         /* baseline: round toward zero, then project each
                              tile (and row) onto the l1 ball
                              ||q||_1 <= Acc * 2^([signed] - N)              */
  int32_t search;          /* per layer: AXE at every (act, weight) width pair
                              from the given ones down to where the data-type
                              bound fits P_I; keep the lowest calibration
                              output error (optq, gpfq)                      */
  const char *target;    /* SIMD target of the quantizer's float products
                            ("avx512-vnni", "avx512", "avx2", "scalar"); NULL
                            or "auto": the best for this CPU (AXE_TARGET is
                            not consulted). The bytes written depend on it */
  const char *rotate;    /* NULL or "none"; "hadamard": rotate every linear
                            layer's input by a block-diagonal Walsh-Hadamard
                            matrix with random signs first (W <- W diag(g) H,
                            x <- H^T x at run time; docs/FORMAT.md)           */
  uint64_t rotate_seed;  /* the signs' seed, 0..2^63-1                        */
  int32_t output_bits;   /* the classifier's weight bits, 2..8; 0 (default):
                            8, or weight_bits under axe and ep_init (a fixed
                            budget would clip 8-bit codes hard). It is
                            quantized like the other layers (constraint,
                            search, baselines) and certified with them       */
  int32_t keep_output_f32; /* 1: classifier and embedding stay fp32 (by
                            default the embedding is stored as 8-bit rows
                            with one scale each, dequantized at lookup)      */
  int32_t group;         /* 0: one weight scale per row; G (a multiple of 32):
                            one per (row, G input columns), MSE-chosen and
                            fp16-representable; needs act_signed; the tiles
                            are then the groups (contiguous, T = G: leave
                            tiles/tile at their defaults or set them so) and
                            each group's integer sum is scaled in fp32
                            (outer_bits stays 32). Runs on the groupwise
                            kernels; G = 32 with 8- or 4-bit weights is
                            GGUF's Q8_0 / Q4_0                              */
  int32_t act_group;     /* with group: activation scale per act_group input
                            columns (a multiple of group; llama.cpp's Q8_0
                            activations: 32), or 0: per token               */
} axe_quantize_params;

AXE_API axe_quantize_params axe_quantize_default_params(void);
/* Quantizes a float model and writes a .axe file (atomically: a failed or
 * aborted run leaves no file at out_path). An out_path ending in ".gguf"
 * writes a GGUF file llama.cpp runs instead: it needs group = 32, act_group =
 * 32 and act_bits = 8 (Q4_0 for weight_bits <= 4, Q8_0 above; layers whose
 * input width is not a multiple of 32 as exact F32), with the plan, the
 * settings and the certificate in the axe.plan, axe.quantization,
 * axe.certificate and axe.not_groupwise keys. Errors are in the model's last
 * error. */
AXE_API axe_status axe_quantize(axe_model *model, const char *out_path, const axe_quantize_params *params);

typedef struct axe_verify_result {
  size_t struct_size;
  uint64_t layers, rows, tiles;
  uint64_t inner_violations, outer_violations;
  double worst_inner_use, worst_outer_use; /* worst magnitude / limit       */
  int32_t certificate_matches;             /* stored certificate agrees     */
  char plan[160];                          /* the plan, as text             */
  char first_violation[160];               /* empty when none               */
  char rotation[64];                       /* "hadamard, seed S" or "none":
                                              the plan is proven on the
                                              stored (rotated) integers      */
} axe_verify_result;

/* Recomputes every tile's and row's budget use of a .axe file from its stored
 * integers. AXE_OK with the counts (violations included) for a readable file;
 * AXE_ERR_FORMAT / AXE_ERR_IO (see axe_last_error) for a damaged one. */
AXE_API axe_status axe_verify(const char *path, axe_verify_result *result);

/* GGUF on a narrow datapath: each Q8_0 / Q4_0 block of 32 codes is one
 * accumulator tile (llama.cpp's datapath scales and adds block sums in
 * float). For every such block, the exact worst case over activations of
 * act_bits (act_signed: symmetric narrow codes, llama.cpp's Q8_0 activations
 * are 8-bit signed; else unsigned with a zero point) gives the smallest width
 * that holds it. */
typedef struct axe_gguf_tensor_check {
  char name[96];
  char type[16];             /* "Q4_0", "F32", ...                            */
  int32_t checked;           /* 1: Q8_0 or Q4_0 blocks of a product; 0: not   */
  char note[32];             /* when not checked: "not integer blocks",
                                "embedding lookup"                           */
  uint64_t rows, blocks;
  uint64_t overflowing_blocks; /* blocks whose worst case exceeds inner_bits   */
  int64_t worst_magnitude;     /* largest block worst case                    */
  uint32_t min_inner_bits;     /* smallest accumulator width for every block  */
} axe_gguf_tensor_check;

typedef struct axe_gguf_check_result {
  size_t struct_size;
  uint64_t tensors_checked, tensors_skipped, blocks, overflowing_blocks;
  uint32_t min_inner_bits; /* over every checked tensor (0: none checked) */
} axe_gguf_check_result;

/* Checks every block of a GGUF file for an inner_bits-wide accumulator. Fills
 * `result`, and up to `capacity` per-tensor entries in file order (*n_tensors:
 * how many the file has; AXE_ERR_BUFFER_TOO_SMALL when more than capacity,
 * with result filled). AXE_ERR_FORMAT / AXE_ERR_IO for a damaged file. */
AXE_API axe_status axe_verify_gguf(const char *path, uint32_t inner_bits, int act_bits, int act_signed,
                                   axe_gguf_check_result *result, axe_gguf_tensor_check *tensors, size_t capacity,
                                   size_t *n_tensors);

#ifdef __cplusplus
}
#endif
#endif /* AXE_AXE_H */
