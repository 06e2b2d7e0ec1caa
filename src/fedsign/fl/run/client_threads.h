// Clients of a simulated round trained at once, each on its own persistent thread ("slot"), their
// results handed to the round loop in the order the strategy sampled them. Two clients on one
// intra-op thread each keep a small CPU busier than one client on two threads: the compact
// CNN's layers are too small to split well, and half of a step's time is spent outside the
// large kernels. Folding the results in sampling order keeps the aggregation's arithmetic, and
// so the run, the same as one client after another.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace fedsign::fl {

class ClientThreads {
 public:
  // `slots` threads; each calls `on_start(slot)` once before its first work (e.g. to set its
  // intra-op thread count).
  ClientThreads(int slots, std::function<void(int slot)> on_start);
  ~ClientThreads();
  ClientThreads(const ClientThreads&) = delete;
  ClientThreads& operator=(const ClientThreads&) = delete;

  // work(i, slot) for every i in [0, n) on the threads, in order of i, and consume(i) on the
  // calling thread for i = 0, 1, ..., each once work(i) has returned. Work runs at most
  // 2 x slots items ahead of consume, so finished results waiting for their turn stay few.
  // An exception from work(i) is rethrown by run() at i's turn; one from consume stops the
  // remaining work, waits for what is running, and leaves run().
  void run(std::size_t n, const std::function<void(std::size_t i, int slot)>& work,
           const std::function<void(std::size_t i)>& consume);

 private:
  void loop(int slot, const std::function<void(int)>& on_start);

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
  // The job of the current run() (valid while work_ is set).
  const std::function<void(std::size_t, int)>* work_ = nullptr;
  std::size_t n_ = 0, next_ = 0, consumed_ = 0, running_ = 0;
  std::vector<char> done_;
  std::vector<std::exception_ptr> errors_;
};

}  // namespace fedsign::fl
