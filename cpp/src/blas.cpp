// Run-time binding of a CBLAS GEMM (see blas.hpp).
#include "fastmlp/blas.hpp"

#include <atomic>
#include <mutex>
#include <stdexcept>

#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#define FASTMLP_HAVE_DLOPEN 1
#endif

namespace fastmlp {
namespace blas {
namespace {

constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;  // CBLAS enum values

using sgemm64_t = void (*)(int, int, int, std::int64_t, std::int64_t, std::int64_t, float, const float*,
                           std::int64_t, const float*, std::int64_t, float, float*, std::int64_t);
using dgemm64_t = void (*)(int, int, int, std::int64_t, std::int64_t, std::int64_t, double, const double*,
                           std::int64_t, const double*, std::int64_t, double, double*, std::int64_t);
using sgemm32_t = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*,
                           int);
using dgemm32_t = void (*)(int, int, int, int, int, int, double, const double*, int, const double*, int, double,
                           double*, int);
using threads_t = int (*)(int);

struct Library {
  void* handle = nullptr;
  bool ilp64 = false;
  void* sgemm = nullptr;
  void* dgemm = nullptr;
  threads_t set_threads_local = nullptr;
  std::string description;
};

std::mutex g_load_mutex;
Library g_library;  // written only under g_load_mutex, before g_ready is set
std::atomic<bool> g_ready{false};

}  // namespace

std::string load(const std::string& path) {
  std::lock_guard<std::mutex> guard(g_load_mutex);
  g_ready.store(false);
#ifdef FASTMLP_HAVE_DLOPEN
  if (g_library.handle) dlclose(g_library.handle);
  g_library = Library{};
  if (path.empty()) return "eigen";
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw std::runtime_error(std::string("BLAS: cannot load ") + path + ": " + dlerror());
  struct Names {
    const char *s, *d;
    bool ilp64;
  };
  for (const Names& names : {Names{"scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_", true},
                             Names{"cblas_sgemm64_", "cblas_dgemm64_", true},
                             Names{"scipy_cblas_sgemm", "scipy_cblas_dgemm", false},
                             Names{"cblas_sgemm", "cblas_dgemm", false}}) {
    void* s = dlsym(handle, names.s);
    void* d = dlsym(handle, names.d);
    if (s && d) {
      g_library.handle = handle;
      g_library.ilp64 = names.ilp64;
      g_library.sgemm = s;
      g_library.dgemm = d;
      g_library.set_threads_local = reinterpret_cast<threads_t>(dlsym(handle, "openblas_set_num_threads_local"));
      g_library.description = std::string(names.s) + " from " + path;
      g_ready.store(true);
      return g_library.description;
    }
  }
  dlclose(handle);
  throw std::runtime_error("BLAS: no cblas_sgemm / cblas_dgemm in " + path);
#else
  if (path.empty()) return "eigen";
  throw std::runtime_error("BLAS: loading a library at run time is not supported on this platform");
#endif
}

bool available() { return g_ready.load(); }

std::string description() {
  std::lock_guard<std::mutex> guard(g_load_mutex);
  return g_ready.load() ? g_library.description : "eigen";
}

void set_threads(int threads) {
  if (g_ready.load() && g_library.set_threads_local) g_library.set_threads_local(threads);
}

namespace {

template <typename Scalar, typename F64, typename F32>
bool call(void* fn64_or_32, bool trans_a, bool trans_b, Index m, Index n, Index k, const Scalar* a, Index lda,
          const Scalar* b, Index ldb, Scalar* c, Index ldc) {
  const int ta = trans_a ? kTrans : kNoTrans, tb = trans_b ? kTrans : kNoTrans;
  if (g_library.ilp64) {
    reinterpret_cast<F64>(fn64_or_32)(kRowMajor, ta, tb, m, n, k, Scalar(1), a, lda, b, ldb, Scalar(0), c, ldc);
  } else {
    constexpr Index kMax = 2147483647;
    if (m > kMax || n > kMax || k > kMax || lda > kMax || ldb > kMax || ldc > kMax) return false;
    reinterpret_cast<F32>(fn64_or_32)(kRowMajor, ta, tb, int(m), int(n), int(k), Scalar(1), a, int(lda), b,
                                      int(ldb), Scalar(0), c, int(ldc));
  }
  return true;
}

}  // namespace

bool gemm(bool trans_a, bool trans_b, Index m, Index n, Index k, const float* a, Index lda, const float* b,
          Index ldb, float* c, Index ldc) {
  if (!g_ready.load(std::memory_order_acquire)) return false;
  return call<float, sgemm64_t, sgemm32_t>(g_library.sgemm, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
}

bool gemm(bool trans_a, bool trans_b, Index m, Index n, Index k, const double* a, Index lda, const double* b,
          Index ldb, double* c, Index ldc) {
  if (!g_ready.load(std::memory_order_acquire)) return false;
  return call<double, dgemm64_t, dgemm32_t>(g_library.dgemm, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
}

}  // namespace blas
}  // namespace fastmlp
