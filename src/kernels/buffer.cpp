#include "kernels/backend.h"

namespace rwkv {

Buffer::Buffer(Backend* backend, size_t n) : backend_(backend), size_(n) {
  if (n) data_ = backend_->allocate(n);
}

Buffer::~Buffer() {
  if (data_) backend_->free(data_);
}

Buffer::Buffer(const Buffer& other) : backend_(other.backend_), size_(other.size_) {
  if (size_) {
    data_ = backend_->allocate(size_);
    backend_->copy(data_, other.data_, size_);
  }
}

Buffer& Buffer::operator=(const Buffer& other) {
  if (this != &other) {
    Buffer copy(other);
    *this = std::move(copy);
  }
  return *this;
}

Buffer::Buffer(Buffer&& other) noexcept : backend_(other.backend_), data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    if (data_) backend_->free(data_);
    backend_ = other.backend_;
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

}  // namespace rwkv
