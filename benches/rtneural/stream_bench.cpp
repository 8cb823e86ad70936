// RTNeural's compile-time API (ModelT) stepping the streaming workloads of BENCHMARKS.md one
// sample at a time: S1-gru8 = GRU(1->8) -> Dense(1), S2-lstm16 = LSTM(1->16) -> Dense(1).
// Prints one line per workload: `rtneural <name> ns_per_sample <min> <median> checksum <sum>`.
// Build and run with run.sh (see README.md in this directory).
#include <RTNeural/RTNeural.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace {

constexpr int kSamples = 1 << 21; // per timed run (~2.1 M samples, 44 s of audio at 48 kHz)
constexpr int kRuns = 7;

std::vector<std::vector<float>> random_matrix(std::mt19937& rng, int rows, int cols, float bound)
{
    std::uniform_real_distribution<float> uniform(-bound, bound);
    std::vector<std::vector<float>> m(rows, std::vector<float>(cols));
    for (auto& row : m)
        for (auto& v : row)
            v = uniform(rng);
    return m;
}

std::vector<float> random_vector(std::mt19937& rng, int n, float bound)
{
    std::uniform_real_distribution<float> uniform(-bound, bound);
    std::vector<float> v(n);
    for (auto& x : v)
        x = uniform(rng);
    return v;
}

// A 440 Hz sine with a little noise, as an audio input.
std::vector<float> signal()
{
    std::mt19937 rng(7);
    std::normal_distribution<float> noise(0.0f, 0.05f);
    std::vector<float> x(kSamples);
    for (int i = 0; i < kSamples; ++i)
        x[i] = 0.5f * std::sin(2.0f * 3.14159265f * 440.0f * float(i) / 48000.0f) + noise(rng);
    return x;
}

template <typename Model>
void run(const char* name, Model& model, const std::vector<float>& x)
{
    std::vector<double> ns;
    double checksum = 0.0;
    for (int run = 0; run < kRuns + 1; ++run)
    {
        model.reset();
        double sum = 0.0;
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < kSamples; ++i)
            sum += model.forward(&x[i]);
        const auto stop = std::chrono::steady_clock::now();
        checksum = sum;
        if (run > 0) // the first run warms up
            ns.push_back(std::chrono::duration<double, std::nano>(stop - start).count() / kSamples);
    }
    std::sort(ns.begin(), ns.end());
    std::printf("rtneural %s ns_per_sample %.2f %.2f checksum %.6e\n", name, ns.front(), ns[ns.size() / 2], checksum);
}

} // namespace

int main()
{
    const auto x = signal();
    std::mt19937 rng(42);
    {
        constexpr int H = 8;
        RTNeural::ModelT<float, 1, 1, RTNeural::GRULayerT<float, 1, H>, RTNeural::DenseT<float, H, 1>> model;
        const float k = 1.0f / std::sqrt(float(H));
        auto& gru = model.get<0>();
        gru.setWVals(random_matrix(rng, 1, 3 * H, k));
        gru.setUVals(random_matrix(rng, H, 3 * H, k));
        gru.setBVals(random_matrix(rng, 2, 3 * H, k));
        model.get<1>().setWeights(random_matrix(rng, 1, H, k));
        const auto bias = random_vector(rng, 1, k);
        model.get<1>().setBias(bias.data());
        run("S1-gru8", model, x);
    }
    {
        constexpr int H = 16;
        RTNeural::ModelT<float, 1, 1, RTNeural::LSTMLayerT<float, 1, H>, RTNeural::DenseT<float, H, 1>> model;
        const float k = 1.0f / std::sqrt(float(H));
        auto& lstm = model.get<0>();
        lstm.setWVals(random_matrix(rng, 1, 4 * H, k));
        lstm.setUVals(random_matrix(rng, H, 4 * H, k));
        lstm.setBVals(random_vector(rng, 4 * H, k));
        model.get<1>().setWeights(random_matrix(rng, 1, H, k));
        const auto bias = random_vector(rng, 1, k);
        model.get<1>().setBias(bias.data());
        run("S2-lstm16", model, x);
    }
    return 0;
}
