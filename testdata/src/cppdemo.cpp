// cppdemo: small CPU-bound C++ workload for stackconv's perf test data.
//
// Built with g++ -O2 -g -fno-omit-frame-pointer (see testdata/record.sh).
// Namespaces, class templates, member function templates, overloads, a
// lambda passed to std::sort and std::map work, so that perf script prints
// demangled names with argument lists, e.g.
// `app::Matrix<double>::multiply(app::Matrix<double> const&) const`.
//
// Usage: cppdemo [milliseconds]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace app {

template <typename T>
class Matrix {
public:
    explicit Matrix(std::size_t n) : n_(n), v_(n * n) {
        for (std::size_t i = 0; i < n * n; ++i)
            v_[i] = static_cast<T>((i * 7) % 13);
    }
    __attribute__((noinline)) Matrix multiply(const Matrix& o) const {
        Matrix r(n_);
        for (std::size_t i = 0; i < n_; ++i)
            for (std::size_t k = 0; k < n_; ++k)
                for (std::size_t j = 0; j < n_; ++j)
                    r.v_[i * n_ + j] += v_[i * n_ + k] * o.v_[k * n_ + j];
        return r;
    }
    T trace() const {
        T t{};
        for (std::size_t i = 0; i < n_; ++i)
            t += v_[i * n_ + i];
        return t;
    }

private:
    std::size_t n_;
    std::vector<T> v_;
};

namespace text {

__attribute__((noinline)) std::size_t count_words(const std::string& s, char sep) {
    std::map<std::string, int> counts;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= s.size(); ++i) {
        if (i == s.size() || s[i] == sep) {
            ++counts[s.substr(start, i - start)];
            start = i + 1;
        }
    }
    return counts.size();
}

__attribute__((noinline)) std::size_t count_words(const std::string& s) {
    return count_words(s, ' ');
}

}  // namespace text

struct Sorter {
    template <typename It, typename Cmp>
    __attribute__((noinline)) void run(It first, It last, Cmp cmp) {
        std::sort(first, last, cmp);
    }
};

}  // namespace app

int main(int argc, char** argv) {
    long ms = argc > 1 ? std::atol(argv[1]) : 500;
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    app::Matrix<double> a(40), b(40);
    app::Matrix<int> ai(40), bi(40);
    std::string words;
    for (int i = 0; i < 600; ++i)
        words += "w" + std::to_string((i * 7919) % 211) + " ";
    std::vector<unsigned> data(20000);
    double acc = 0;
    unsigned seed = 1;
    app::Sorter sorter;
    while (std::chrono::steady_clock::now() < end) {
        acc += a.multiply(b).trace();
        acc += ai.multiply(bi).trace();
        acc += static_cast<double>(app::text::count_words(words));
        for (auto& d : data)
            d = seed = seed * 1103515245u + 12345u;
        sorter.run(data.begin(), data.end(),
                   [](unsigned x, unsigned y) { return (x >> 3) < (y >> 3); });
        acc += data[data.size() / 2];
    }
    std::fprintf(stderr, "%f\n", acc);
    return 0;
}
