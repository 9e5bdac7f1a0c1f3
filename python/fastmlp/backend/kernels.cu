// fastmlp's CUDA kernels, compiled by CuPy (NVRTC) at first use for float and double.
// Each kernel has a NumPy twin in _reference.py (same name, same formula, same rounding points);
// tests/test_gpu_engine.py checks both against the C++ engine. Matrices are row-major: rows are
// samples. `sums` is double[5] = {loss, correct, compared, squared_error, absolute_error};
// `state` is long long[3] = {position in the epoch, random counter, optimizer iterations}.

#define FM_SELU_ALPHA 1.6732632423543772848170429916717
#define FM_SELU_SCALE 1.0507009873554804934193349852946
#define FM_PROB_EPS 1e-7
#define FM_SOFTMAX 4

typedef long long i64;
typedef unsigned long long u64;

#define FM_FOR_EACH(i, size) \
  for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < (size); i += (i64)blockDim.x * gridDim.x)

template <typename T> __device__ T fm_tiny();
template <> __device__ float fm_tiny<float>() { return 1.17549435e-38f; }
template <> __device__ double fm_tiny<double>() { return 2.2250738585072014e-308; }

// f(x) for the activation codes of activation.hpp (softmax is a row operation: softmax_rows);
// p: the function's argument (leaky_relu's negative slope, elu's alpha; the others ignore it).
template <typename T>
__device__ T fm_activate(int code, T x, T p) {
  switch (code) {
    case 1: return x > T(0) ? x : T(0);
    case 2: return T(1) / (T(1) + exp(-x));
    case 3: return tanh(x);
    case 5: return x > T(0) ? x : p * expm1(x);
    case 6: return T(FM_SELU_SCALE) * (x > T(0) ? x : T(FM_SELU_ALPHA) * expm1(x));
    case 7: return fmax(x, T(0)) + log1p(exp(-fabs(x)));
    case 8: return x / (T(1) + fabs(x));
    case 9: return x > T(0) ? x : p * x;
    case 10: return exp(x);
    case 11: return fmin(fmax(x + T(3), T(0)), T(6)) / T(6);
    default: return x;
  }
}

// g * f'(z), with f'(z) written through the output a = f(z) (p >= 0: the output tells the side).
template <typename T>
__device__ T fm_activation_grad(int code, T a, T g, T p) {
  switch (code) {
    case 1: return a > T(0) ? g : T(0);
    case 2: return g * (a * (T(1) - a));
    case 3: return g * (T(1) - a * a);
    case 5: return g * (a > T(0) ? T(1) : a + p);
    case 6: return g * (a >= T(0) ? T(FM_SELU_SCALE) : a + T(FM_SELU_SCALE * FM_SELU_ALPHA));
    case 7: return g * (T(1) - exp(-a));
    case 8: { const T s = T(1) - fabs(a); return g * (s * s); }
    case 9: return a > T(0) ? g : p * g;
    case 10: return g * a;
    case 11: return g * ((a > T(0) && a < T(1)) ? T(1.0 / 6.0) : T(0));
    default: return g;
  }
}

// splitmix64's output function; the generator is mix(mix(mix(seed) ^ counter) ^ stream) + i.
__device__ u64 fm_mix(u64 z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
__device__ u64 fm_stream_base(u64 seed, u64 counter, u64 stream) {
  return fm_mix(fm_mix(fm_mix(seed) ^ counter) ^ stream);
}

// Sum of v over the block, added to *out by one thread (blockDim.x a power of two <= 1024).
__device__ void fm_block_add(double v, double* out) {
  __shared__ double part[32];
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
  __syncthreads();
  if (threadIdx.x < 32) {
    v = threadIdx.x < (blockDim.x >> 5) ? part[threadIdx.x] : 0.0;
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
    if (threadIdx.x == 0 && v != 0.0) atomicAdd(out, v);
  }
}

// -- layers ------------------------------------------------------------------------------------

// a = f(a + b) (b broadcast over rows; skipped when has_bias is 0); apply = 0 leaves f out.
template <typename T>
__global__ void bias_activation(T* a, const T* b, i64 rows, i64 cols, int has_bias, int code, int apply,
                                double param) {
  FM_FOR_EACH(i, rows * cols) {
    T v = a[i];
    if (has_bias) v += b[i % cols];
    a[i] = apply ? fm_activate<T>(code, v, T(param)) : v;
  }
}

// Row-wise softmax with the row's max subtracted first, one thread per row.
template <typename T>
__global__ void softmax_rows(T* a, i64 rows, i64 cols) {
  FM_FOR_EACH(r, rows) {
    T* row = a + r * cols;
    T m = row[0];
    for (i64 j = 1; j < cols; ++j) m = fmax(m, row[j]);
    T s = T(0);
    for (i64 j = 0; j < cols; ++j) s += (row[j] = exp(row[j] - m));
    for (i64 j = 0; j < cols; ++j) row[j] /= s;
  }
}

template <typename T>
__global__ void activation_backward(const T* a, T* g, i64 size, int code, double param) {
  FM_FOR_EACH(i, size) g[i] = fm_activation_grad<T>(code, a[i], g[i], T(param));
}

// Softmax's Jacobian-vector product: g = a * (g - sum_j a_j g_j), one thread per row.
template <typename T>
__global__ void softmax_backward_rows(const T* a, T* g, i64 rows, i64 cols) {
  FM_FOR_EACH(r, rows) {
    const T* ar = a + r * cols;
    T* gr = g + r * cols;
    T dot = T(0);
    for (i64 j = 0; j < cols; ++j) dot += ar[j] * gr[j];
    for (i64 j = 0; j < cols; ++j) gr[j] = ar[j] * (gr[j] - dot);
  }
}

// Inverted dropout: mask = [u >= rate] / (1 - rate), out = x * mask; u from the layer's stream.
template <typename T>
__global__ void dropout(const T* x, T* out, T* mask, i64 size, double rate, u64 seed, const i64* state, int layer) {
  const u64 base = fm_stream_base(seed, (u64)state[1], (u64)layer);
  const T scale = T(1.0 / (1.0 - rate));
  FM_FOR_EACH(i, size) {
    const double u = (double)(fm_mix(base + (u64)i) >> 11) * 1.1102230246251565e-16;  // 2^-53
    mask[i] = u >= rate ? scale : T(0);
    out[i] = x[i] * mask[i];
  }
}

template <typename T>
__global__ void multiply(const T* a, const T* b, T* out, i64 size) {
  FM_FOR_EACH(i, size) out[i] = a[i] * b[i];
}

// -- the epoch's batches -----------------------------------------------------------------------

__global__ void shuffle_keys(u64* keys, i64 n, u64 seed, const i64* state, u64 stream) {
  const u64 base = fm_stream_base(seed, (u64)state[1], stream);
  FM_FOR_EACH(i, n) keys[i] = fm_mix(base + (u64)i);
}

// xb[i] = x[order[pos + i]], yb[i] = y[order[pos + i]] for i < n: the position is read from
// device memory, so that a captured step gathers the next batch each time it is replayed.
template <typename T>
__global__ void gather(const T* x, const T* y, const i64* order, const i64* state, i64 n, i64 in, i64 ty,
                       T* xb, T* yb) {
  const i64 pos = state[0];
  FM_FOR_EACH(i, n * in) xb[i] = x[order[pos + i / in] * in + i % in];
  FM_FOR_EACH(i, n * ty) yb[i] = y[order[pos + i / ty] * ty + i % ty];
}

__global__ void advance(i64* state, i64 rows, int step) {
  if (blockIdx.x == 0 && threadIdx.x == 0) {
    state[0] += rows;
    state[1] += 1;
    state[2] += step;
  }
}

// -- losses and metrics (one thread per sample) ------------------------------------------------

// Sparse (y: the class index) and categorical (y: a distribution) cross-entropy.
// mode 0: a holds probabilities, rescaled and clipped as Keras does, no gradient through the clip;
// mode 1: a holds logits; mode 2: logits fused with the softmax, a is overwritten with it.
template <typename T>
__global__ void crossentropy_rows(int sparse, int mode, T* a, const T* y, T* g, i64 n, i64 k, double* sums) {
  FM_FOR_EACH(r, n) {
    T* ar = a + r * k;
    T* gr = g + r * k;
    const T* yr = y + r * (sparse ? 1 : k);
    const i64 label = sparse ? (i64)yr[0] : -1;
    if (sparse && (label < 0 || label >= k)) continue;  // refused before the engine; never read out of bounds
    double loss = 0;
    if (mode != 0) {
      T m = ar[0];
      for (i64 j = 1; j < k; ++j) m = fmax(m, ar[j]);
      T s = T(0);
      for (i64 j = 0; j < k; ++j) s += (gr[j] = exp(ar[j] - m));
      const T lse = m + log(s);
      T ysum = T(1);
      if (sparse) {
        loss = (double)(lse - ar[label]);
      } else {
        ysum = T(0);
        for (i64 j = 0; j < k; ++j) {
          ysum += yr[j];
          loss += (double)yr[j] * (double)(lse - ar[j]);
        }
      }
      for (i64 j = 0; j < k; ++j) {
        const T p = gr[j] / s;
        const T t = sparse ? T(j == label) : yr[j];
        if (mode == 2) ar[j] = p;
        gr[j] = (p * ysum - t) / T(n);
      }
    } else {
      T s = T(0);
      for (i64 j = 0; j < k; ++j) s += ar[j];
      s = fmax(s, fm_tiny<T>());
      const T eps = T(FM_PROB_EPS);
      T passed = T(0);
      for (i64 j = 0; j < k; ++j) {
        const T w = sparse ? T(j == label) : yr[j];
        gr[j] = T(0);
        if (w == T(0)) continue;
        const T q = ar[j] / s;
        const T qc = fmin(fmax(q, eps), T(1) - eps);
        loss -= (double)(w * log(qc));
        if (q == qc) {
          gr[j] = -w / ar[j];
          passed += w;
        }
      }
      for (i64 j = 0; j < k; ++j) gr[j] = (gr[j] + passed / s) / T(n);
    }
    atomicAdd(&sums[0], loss);
  }
}

// The element-wise losses, averaged over the k outputs: 2 binary cross-entropy (modes as above,
// with the sigmoid), 3 mean squared error, 4 mean absolute error, 5 hinge, 6 logistic.
template <typename T>
__global__ void elementwise_loss_rows(int kind, int mode, T* a, const T* y, T* g, i64 n, i64 k, double* sums) {
  const T scale = T(1) / T(n) / T(k);
  FM_FOR_EACH(r, n) {
    double loss = 0;
    for (i64 i = r * k; i < (r + 1) * k; ++i) {
      const T v = a[i], t = y[i];
      if (kind == 2 && mode != 0) {
        loss += fmax((double)v, 0.0) - (double)v * (double)t + (double)log1p(exp(-fabs(v)));
        const T p = T(1) / (T(1) + exp(-v));
        g[i] = (p - t) / T(n * k);
        if (mode == 2) a[i] = p;
      } else if (kind == 2) {
        const T eps = T(FM_PROB_EPS);
        const T pc = fmin(fmax(v, eps), T(1) - eps);
        loss -= (double)(t * log(pc) + (T(1) - t) * log(T(1) - pc));
        g[i] = v == pc ? (pc - t) / (pc * (T(1) - pc)) / T(n * k) : T(0);
      } else if (kind == 3) {
        const T d = v - t;
        loss += (double)d * (double)d;
        g[i] = d * (T(2) / T(n) / T(k));
      } else if (kind == 4) {
        const T d = v - t;
        loss += fabs((double)d);
        g[i] = T((d > T(0)) - (d < T(0))) * scale;
      } else if (kind == 5) {
        const T margin = T(1) - t * v;
        loss += fmax((double)margin, 0.0);
        g[i] = margin >= T(0) ? -t * scale : T(0);  // (at 0 as TensorFlow: maximum passes to x at a tie)
      } else {
        const T ya = t * v;
        loss += (double)(fmax(-ya, T(0)) + log1p(exp(-fabs(ya))));
        g[i] = -t / (T(1) + exp(ya)) * scale;
      }
    }
    atomicAdd(&sums[0], loss / (double)k);
  }
}

// The focal factor u^gamma and its derivative gamma u^(gamma - 1) (0 for gamma = 0: loss.hpp).
template <typename T>
__device__ void fm_focal_factor(T u, T gamma, T& f, T& df) {
  if (gamma == T(0)) {
    f = T(1);
    df = T(0);
  } else {
    f = pow(u, gamma);
    df = gamma * pow(u, gamma - T(1));
  }
}

// Binary focal cross-entropy (loss.hpp binary_focal; twin in _reference_focal.py), averaged over
// the k outputs: w u^gamma bce, u = 1 - p_t; bce from the logits in modes 1 and 2 (2: a is
// overwritten with the sigmoid), from clipped probabilities in mode 0; w from alpha where balance
// is set, else 1.
template <typename T>
__global__ void binary_focal_rows(int mode, double gamma, double alpha, int balance, T* a, const T* y, T* g, i64 n,
                                  i64 k, double* sums) {
  const T one = T(1), eps = T(FM_PROB_EPS), al = T(alpha);
  FM_FOR_EACH(r, n) {
    double loss = 0;
    for (i64 i = r * k; i < (r + 1) * k; ++i) {
      const T v = a[i], t = y[i];
      T p = v, bce, dbce, dp = one;  // dbce = d bce / dv, dp = dp / dv
      if (mode != 0) {
        p = one / (one + exp(-v));
        bce = fmax(v, T(0)) - v * t + log1p(exp(-fabs(v)));
        dbce = p - t;
        dp = p * (one - p);
        if (mode == 2) a[i] = p;
      } else {
        const T pc = fmin(fmax(p, eps), one - eps);
        bce = -(t * log(pc) + (one - t) * log(one - pc));
        dbce = v == pc ? (pc - t) / (pc * (one - pc)) : T(0);
      }
      const T u = one - (t * p + (one - t) * (one - p));
      const T du = (one - T(2) * t) * dp;
      T f, df;
      fm_focal_factor(u, T(gamma), f, df);
      const T w = balance ? t * al + (one - t) * (one - al) : one;
      loss += (double)(w * (f * bce));
      g[i] = w * ((du == T(0) ? T(0) : df * du) * bce + f * dbce) / T(n * k);
    }
    atomicAdd(&sums[0], loss / (double)k);
  }
}

// Categorical focal cross-entropy (loss.hpp; twin in _reference_focal.py):
// sum_j alpha (1 - q_j)^gamma (-y_j log q_j), q = clip(p / sum(p)), p = a (mode 0) or its softmax
// (mode 1); no gradient through the clip.
template <typename T>
__global__ void categorical_focal_rows(int mode, double gamma, double alpha, const T* a, const T* y, T* g, i64 n,
                                       i64 k, double* sums) {
  const T one = T(1), eps = T(FM_PROB_EPS), al = T(alpha);
  FM_FOR_EACH(r, n) {
    const T* ar = a + r * k;
    const T* yr = y + r * k;
    T* gr = g + r * k;
    T m = T(0), e = one;  // logits: their max and sum_j e^(z_j - m)
    if (mode != 0) {
      m = ar[0];
      for (i64 j = 1; j < k; ++j) m = fmax(m, ar[j]);
      e = T(0);
      for (i64 j = 0; j < k; ++j) e += (gr[j] = exp(ar[j] - m));
      for (i64 j = 0; j < k; ++j) gr[j] /= e;  // p
    } else {
      for (i64 j = 0; j < k; ++j) gr[j] = ar[j];
    }
    T s = T(0);
    for (i64 j = 0; j < k; ++j) s += gr[j];
    s = fmax(s, fm_tiny<T>());
    double loss = 0;
    T gq = T(0);  // sum_j G_j q_j, G_j = dL/dq_j
    for (i64 j = 0; j < k; ++j) {
      const T q = gr[j] / s, qc = fmin(fmax(q, eps), one - eps);
      const T ce = -yr[j] * log(qc);
      T f, df;
      fm_focal_factor(one - qc, T(gamma), f, df);
      loss += (double)(al * f * ce);
      gr[j] = q == qc ? -al * (df * ce + f * yr[j] / qc) : T(0);
      gq += gr[j] * q;
    }
    for (i64 j = 0; j < k; ++j) gr[j] = (gr[j] - gq) / s;  // dL/dp
    if (mode != 0) {  // through the softmax: dL/dz = p (dL/dp - sum_j p_j dL/dp_j)
      T dot = T(0);
      for (i64 j = 0; j < k; ++j) dot += exp(ar[j] - m) / e * gr[j];
      for (i64 j = 0; j < k; ++j) gr[j] = exp(ar[j] - m) / e * (gr[j] - dot);
    }
    for (i64 j = 0; j < k; ++j) gr[j] /= T(n);
    atomicAdd(&sums[0], loss);
  }
}

// Accuracy (mode 1: argmax == label, 2: argmax == argmax of y, 3: per element thresholds) and
// the mse / mae metric sums against scale * y + offset (y as the user passed it), of one batch.
template <typename T>
__global__ void metrics_rows(int mode, double out_t, double target_t, int squared, int absolute, double scale,
                             double offset, const T* a, const T* y, i64 n, i64 k, i64 ty, double* sums) {
  FM_FOR_EACH(r, n) {
    const T* ar = a + r * k;
    const T* yr = y + r * ty;
    double correct = 0;
    if (mode == 1 || mode == 2) {
      i64 best = 0, target = 0;
      for (i64 j = 1; j < k; ++j) if (ar[j] > ar[best]) best = j;
      if (mode == 1) {
        correct = (double)best == (double)yr[0];
      } else {
        for (i64 j = 1; j < k; ++j) if (yr[j] > yr[target]) target = j;
        correct = best == target;
      }
      atomicAdd(&sums[2], 1.0);
    } else if (mode == 3) {
      for (i64 j = 0; j < k; ++j) correct += (ar[j] > T(out_t)) == (yr[j] > T(target_t));
      atomicAdd(&sums[2], (double)k);
    }
    if (correct != 0) atomicAdd(&sums[1], correct);
    if ((squared || absolute) && ty == k) {
      double sq = 0, ab = 0;
      for (i64 j = 0; j < k; ++j) {
        const double d = (double)(ar[j] - (yr[j] * T(scale) + T(offset)));
        sq += d * d;
        ab += fabs(d);
      }
      if (squared) atomicAdd(&sums[3], sq / (double)k);
      if (absolute) atomicAdd(&sums[4], ab / (double)k);
    }
  }
}

// -- penalties, clipping and the optimizers (one pass over the flat parameters) ----------------

// sums[0] += samples * (l1 sum|w| + l2 sum w^2); g += l1 sign(w) + 2 l2 w when has_grad.
template <typename T>
__global__ void penalty(const T* w, T* g, i64 size, double l1, double l2, double samples, int has_grad, double* sums) {
  double value = 0;
  FM_FOR_EACH(i, size) {
    const T v = w[i];
    value += l1 * fabs((double)v) + l2 * (double)v * (double)v;
    if (has_grad) {
      T gi = g[i];
      if (l1 != 0) gi += T(l1) * T((v > T(0)) - (v < T(0)));
      if (l2 != 0) gi += T(2 * l2) * v;
      g[i] = gi;
    }
  }
  fm_block_add(samples * value, &sums[0]);
}

template <typename T>
__global__ void squared_norm(const T* g, i64 size, double* out) {
  double value = 0;
  FM_FOR_EACH(i, size) value += (double)g[i] * (double)g[i];
  fm_block_add(value, out);
}

// g *= limit / ||g|| when ||g|| > limit (||g||^2 computed by squared_norm into *squared).
template <typename T>
__global__ void scale_to_norm(T* g, i64 size, const double* squared, double limit) {
  const double norm = sqrt(*squared);
  if (norm <= limit) return;
  const T factor = T(limit / norm);
  FM_FOR_EACH(i, size) g[i] *= factor;
}

template <typename T>
__global__ void clip_values(T* g, i64 size, double limit) {
  FM_FOR_EACH(i, size) g[i] = fmin(fmax(g[i], T(-limit)), T(limit));
}

// hyper[0] is the learning rate, read from device memory so that a replayed step sees changes.
// Decoupled weight decay first, as Keras 3: w *= 1 - lr wd.
#define FM_DECAY(T) \
  const T lr = T(hyper[0]); \
  if (wd > 0) w[i] *= T(1) - lr * T(wd);

template <typename T>
__global__ void sgd(T* w, const T* g, T* m, i64 size, const double* hyper, double momentum, int nesterov, double wd) {
  FM_FOR_EACH(i, size) {
    FM_DECAY(T)
    if (momentum == 0) {
      w[i] -= lr * g[i];
    } else {
      m[i] = T(momentum) * m[i] - lr * g[i];
      w[i] += nesterov ? T(momentum) * m[i] - lr * g[i] : m[i];
    }
  }
}

// Kingma & Ba 2015, Algorithm 1 with eps-hat: alpha = lr sqrt(1 - b2^t) / (1 - b1^t).
template <typename T>
__global__ void adam(T* w, const T* g, T* m, T* v, T* vhat, i64 size, const double* hyper, const i64* state,
                     double b1, double b2, double eps, int amsgrad, double wd) {
  const double t = (double)(state[2] + 1);
  const T alpha = T(hyper[0] * sqrt(1 - pow(b2, t)) / (1 - pow(b1, t)));
  FM_FOR_EACH(i, size) {
    FM_DECAY(T)
    const T gi = g[i];
    m[i] += (gi - m[i]) * T(1 - b1);
    v[i] += (gi * gi - v[i]) * T(1 - b2);
    T denom = v[i];
    if (amsgrad) denom = vhat[i] = fmax(vhat[i], v[i]);
    w[i] -= alpha * m[i] / (sqrt(denom) + T(eps));
  }
}

template <typename T>
__global__ void rmsprop(T* w, const T* g, T* v, T* mom, T* avg, i64 size, const double* hyper, double rho, double eps,
                        double momentum, int centered, double wd) {
  const T r = T(rho);
  FM_FOR_EACH(i, size) {
    FM_DECAY(T)
    const T gi = g[i];
    v[i] = r * v[i] + (T(1) - r) * gi * gi;
    T denom = v[i];
    if (centered) {
      avg[i] = r * avg[i] + (T(1) - r) * gi;
      denom = v[i] - avg[i] * avg[i];
    }
    const T inc = lr * gi / sqrt(denom + T(eps));
    if (momentum > 0) {
      mom[i] = T(momentum) * mom[i] + inc;
      w[i] -= mom[i];
    } else {
      w[i] -= inc;
    }
  }
}

template <typename T>
__global__ void adagrad(T* w, const T* g, T* acc, i64 size, const double* hyper, double eps, double wd) {
  FM_FOR_EACH(i, size) {
    FM_DECAY(T)
    acc[i] += g[i] * g[i];
    w[i] -= lr * g[i] / sqrt(acc[i] + T(eps));
  }
}

// Zeiler 2012.
template <typename T>
__global__ void adadelta(T* w, const T* g, T* eg, T* ed, i64 size, const double* hyper, double rho, double eps,
                         double wd) {
  const T r = T(rho);
  FM_FOR_EACH(i, size) {
    FM_DECAY(T)
    const T gi = g[i];
    eg[i] = r * eg[i] + (T(1) - r) * gi * gi;
    const T d = -sqrt(ed[i] + T(eps)) / sqrt(eg[i] + T(eps)) * gi;
    ed[i] = r * ed[i] + (T(1) - r) * d * d;
    w[i] += lr * d;
  }
}

// Keras's Nadam momentum schedule u_t = b1 (1 - 0.5 * 0.96^t): hyper[1] = P_t = P_{t-1} u_t (in
// Keras's order of products), by one thread, before the nadam kernel of the step reads it.
__global__ void nadam_product(double* hyper, const i64* state, double b1) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  const double t = (double)(state[2] + 1);
  hyper[1] = hyper[1] * b1 * (1 - 0.5 * pow(0.96, t));
}

// Keras casts some hyperparameters through float32 (optimizer.hpp keras_cast).
__device__ double fm_keras_cast(double v) { return (double)(float)v; }

// Dozat 2016, Keras's form: m_hat = u_{t+1} m / (1 - P_t u_{t+1}) + (1 - u_t) g / (1 - P_t),
// v_hat = v / (1 - b2^t), w -= lr m_hat / (sqrt(v_hat) + eps); here b1, b2 and 0.96 are cast.
template <typename T>
__global__ void nadam(T* w, const T* g, T* m, T* v, i64 size, const double* hyper, const i64* state, double b1,
                      double b2, double eps, double wd) {
  const double t = (double)(state[2] + 1), decay = fm_keras_cast(0.96);
  b1 = fm_keras_cast(b1);
  b2 = fm_keras_cast(b2);
  const double u_t = b1 * (1 - 0.5 * pow(decay, t)), u_next = b1 * (1 - 0.5 * pow(decay, t + 1));
  const double product = hyper[1];
  const T a = T(u_next / (1 - product * u_next)), b = T((1 - u_t) / (1 - product));
  const T c = T(1 / (1 - pow(b2, t)));
  FM_FOR_EACH(i, size) {
    FM_DECAY(T)
    const T gi = g[i];
    m[i] += (gi - m[i]) * T(1 - b1);
    v[i] += (gi * gi - v[i]) * T(1 - b2);
    w[i] -= lr * (a * m[i] + b * gi) / (sqrt(c * v[i]) + T(eps));
  }
}

// Kingma & Ba 2015, section 7.1: u = max(b2 u, |g|), w -= lr / (1 - b1^t) m / (u + eps).
template <typename T>
__global__ void adamax(T* w, const T* g, T* m, T* u, i64 size, const double* hyper, const i64* state, double b1,
                       double b2, double eps, double wd) {
  const double t = (double)(state[2] + 1);
  const T alpha = T(hyper[0] / (1 - pow(fm_keras_cast(b1), t)));
  FM_FOR_EACH(i, size) {
    FM_DECAY(T)
    const T gi = g[i];
    m[i] += (gi - m[i]) * T(1 - b1);
    u[i] = fmax(T(b2) * u[i], fabs(gi));
    w[i] -= alpha * m[i] / (u[i] + T(eps));
  }
}

// Chen et al. 2023: w -= lr sign(b1 m + (1 - b1) g), m = b2 m + (1 - b2) g.
template <typename T>
__global__ void lion(T* w, const T* g, T* m, i64 size, const double* hyper, double b1, double b2, double wd) {
  b1 = fm_keras_cast(b1);
  b2 = fm_keras_cast(b2);
  FM_FOR_EACH(i, size) {
    FM_DECAY(T)
    const T gi = g[i];
    const T d = m[i] * T(b1) + gi * T(1 - b1);
    w[i] -= lr * T((d > T(0)) - (d < T(0)));
    m[i] = m[i] * T(b2) + gi * T(1 - b2);
  }
}

// x^p for Ftrl (p = -learning_rate_power): square roots for Keras's default p = 0.5.
template <typename T>
__device__ T fm_power(T x, double p) {
  if (p == 0.5) return sqrt(x);
  if (p == 0) return T(1);
  return pow(x, T(p));
}

// McMahan et al. 2013, Keras's form: n' = n + g^2, z += g + 2 shrinkage w - (n'^p - n^p) / lr w,
// w = (clip(z, -l1, l1) - z) / (n'^p / lr + 2 (l2 + beta / (2 lr))), n = n'. The rate is > 0
// (the engine refuses 0 before the step).
template <typename T>
__global__ void ftrl(T* w, const T* g, T* n, T* z, i64 size, const double* hyper, double p, double l1, double l2,
                     double shrinkage, double beta, double wd) {
  const T inverse = T(1 / hyper[0]), two_l2 = T(2 * (l2 + beta / (2 * hyper[0])));
  FM_FOR_EACH(i, size) {
    FM_DECAY(T)
    const T gi = g[i], grown = n[i] + gi * gi;
    const T root = fm_power(grown, p);
    z[i] += (gi + T(2 * shrinkage) * w[i]) - (root - fm_power(n[i], p)) * inverse * w[i];
    w[i] = (fmin(fmax(z[i], T(-l1)), T(l1)) - z[i]) / (root * inverse + two_l2);
    n[i] = grown;
  }
}
