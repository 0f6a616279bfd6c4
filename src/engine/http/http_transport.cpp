#include "engine/http/http_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

namespace batchwise {
namespace {

struct EasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct MultiDeleter {
  void operator()(CURLM* h) const { curl_multi_cleanup(h); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;
using MultiHandle = std::unique_ptr<CURLM, MultiDeleter>;
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}


HeaderList append_header(HeaderList list, const std::string& line) {
  curl_slist* grown = curl_slist_append(list.get(), line.c_str());
  if (grown) {
    (void)list.release();
    return HeaderList(grown);
  }
  return list;
}

// Retry-After in seconds ("120"); an HTTP date or garbage gives 0 (the caller's default applies).
double parse_seconds(std::string_view text, double scale) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr == text.data() || value < 0) return 0;
  return value * scale;
}

std::string header_value(CURL* easy, const char* name) {
  struct curl_header* h = nullptr;
  if (curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h && h->value) return h->value;
  return "";
}

TransportFailure classify(CURLcode code) {
  switch (code) {
    case CURLE_OK: return TransportFailure::kNone;
    case CURLE_OPERATION_TIMEDOUT: return TransportFailure::kTimeout;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return TransportFailure::kConnection;
    default: return TransportFailure::kOther;
  }
}

class CurlTransport final : public HttpTransport {
 public:
  CurlTransport(MultiHandle multi, HeaderList post_headers, HeaderList get_headers, HttpTransportOptions options)
      : multi_(std::move(multi)),
        post_headers_(std::move(post_headers)),
        get_headers_(std::move(get_headers)),
        options_(std::move(options)) {}

  ~CurlTransport() override { (void)cancel_all(); }

  void start(HttpCall call) override {
    auto t = std::make_unique<Transfer>();
    if (!idle_.empty()) {
      t->easy = std::move(idle_.back());
      idle_.pop_back();
    } else {
      t->easy.reset(curl_easy_init());
      if (t->easy) set_fixed_options(t->easy.get());
    }
    t->call = std::move(call);
    if (!t->easy) {  // out of memory in curl: this request fails, the loop goes on
      HttpReply r;
      r.id = t->call.id;
      r.failure = TransportFailure::kOther;
      r.failure_message = "curl_easy_init failed (out of memory?)";
      early_.push_back(std::move(r));
      return;
    }
    t->max_bytes = options_.max_response_bytes;
    const std::string url(t->call.url);  // curl copies it
    CURL* e = t->easy.get();
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(t->call.timeout_s * 1000));
    if (t->call.post) {
      curl_easy_setopt(e, CURLOPT_HTTPHEADER, post_headers_.get());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->call.body.size()));
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->call.body.data());
    } else {
      curl_easy_setopt(e, CURLOPT_HTTPHEADER, get_headers_.get());
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    const bool tls = t->call.url.starts_with("https://");
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, tls ? 1L : 0L);  // wait for an HTTP/2 connection to multiplex on
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
    CURLMcode rc = curl_multi_add_handle(multi_.get(), e);
    if (rc != CURLM_OK) {
      HttpReply r;
      r.id = t->call.id;
      r.failure = TransportFailure::kOther;
      r.failure_message = curl_multi_strerror(rc);
      early_.push_back(std::move(r));
      idle_.push_back(std::move(t->easy));
      return;
    }
    transfers_.emplace(e, std::move(t));
  }

  std::vector<HttpReply> poll(int timeout_ms) override {
    std::vector<HttpReply> done = std::move(early_);
    early_.clear();
    if (!done.empty()) timeout_ms = 0;
    int running = 0;
    curl_multi_poll(multi_.get(), nullptr, 0, std::max(0, timeout_ms), nullptr);
    curl_multi_perform(multi_.get(), &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* e = msg->easy_handle;
      const CURLcode code = msg->data.result;
      auto it = transfers_.find(e);
      if (it == transfers_.end()) continue;
      std::unique_ptr<Transfer> t = std::move(it->second);
      transfers_.erase(it);
      curl_multi_remove_handle(multi_.get(), e);
      HttpReply r;
      r.id = t->call.id;
      r.failure = classify(code);
      if (t->too_large) {
        r.failure = TransportFailure::kTooLarge;
        r.failure_message = "the answer passed " + std::to_string(options_.max_response_bytes >> 20) +
                            " MiB (--max-response-mib) and was cut off";
      } else if (t->callback_failed) {
        r.failure = TransportFailure::kOther;
        r.failure_message = "reading the answer failed: " + t->callback_error;
      } else if (code != CURLE_OK) {
        r.failure_message = curl_easy_strerror(code);
      } else {
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        r.status = static_cast<int>(status);
        r.body = std::move(t->response);
        if (r.status == 429 || r.status == 503) {
          r.retry_after_s = parse_seconds(header_value(e, "retry-after-ms"), 0.001);
          if (r.retry_after_s <= 0) r.retry_after_s = parse_seconds(header_value(e, "Retry-After"), 1.0);
        }
        if (!t->call.post) r.server = header_value(e, "Server");
      }
      idle_.push_back(std::move(t->easy));
      done.push_back(std::move(r));
    }
    return done;
  }

  void wakeup() override { curl_multi_wakeup(multi_.get()); }

  size_t active() const override { return transfers_.size(); }

  std::vector<HttpReply> cancel_all() override {
    std::vector<HttpReply> out = std::move(early_);
    early_.clear();
    for (auto& [e, t] : transfers_) {
      curl_multi_remove_handle(multi_.get(), e);
      HttpReply r;
      r.id = t->call.id;
      r.failure = TransportFailure::kCancelled;
      r.failure_message = "cancelled";
      out.push_back(std::move(r));
    }
    transfers_.clear();
    return out;
  }

  std::vector<HttpReply> cancel(const std::function<bool(uint64_t id)>& which) override {
    std::vector<HttpReply> out;
    for (auto it = transfers_.begin(); it != transfers_.end();) {
      if (!which(it->second->call.id)) {
        ++it;
        continue;
      }
      curl_multi_remove_handle(multi_.get(), it->first);
      HttpReply r;
      r.id = it->second->call.id;
      r.failure = TransportFailure::kCancelled;
      r.failure_message = "cancelled";
      out.push_back(std::move(r));
      idle_.push_back(std::move(it->second->easy));
      it = transfers_.erase(it);
    }
    return out;
  }

 private:
  struct Transfer {
    EasyHandle easy;
    HttpCall call;
    std::string response;
    uint64_t max_bytes = 0;
    bool too_large = false;
    bool callback_failed = false;
    std::string callback_error;
  };

  // Called by curl from inside curl_multi_perform: no exception may cross back into C code, so a
  // throw here (allocation failure, a bug in a stream reader) ends this transfer only.
  static size_t append_body(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t bytes = size * n;
    if (t->response.size() + bytes > t->max_bytes) {
      t->too_large = true;
      return 0;  // curl ends the transfer with CURLE_WRITE_ERROR
    }
    try {
      t->response.append(data, bytes);
      if (t->call.on_data) t->call.on_data(std::string_view(data, bytes));
    } catch (const std::exception& e) {
      t->callback_failed = true;
      t->callback_error = e.what();
      return 0;
    } catch (...) {
      t->callback_failed = true;
      t->callback_error = "unknown exception";
      return 0;
    }
    return bytes;
  }

  void set_fixed_options(CURL* e) {
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  }

  MultiHandle multi_;
  HeaderList post_headers_;
  HeaderList get_headers_;
  HttpTransportOptions options_;
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> transfers_;
  std::vector<EasyHandle> idle_;
  std::vector<HttpReply> early_;  // failed before they started
};

}  // namespace

Expected<std::unique_ptr<HttpTransport>> HttpTransport::create(const HttpTransportOptions& options) {
  init_curl_once();
  MultiHandle multi(curl_multi_init());
  if (!multi) return make_error(ErrorCode::kInternal, "curl_multi_init failed");
  curl_multi_setopt(multi.get(), CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_MULTIPLEX));
  curl_multi_setopt(multi.get(), CURLMOPT_MAXCONNECTS, options.max_connections);
  HeaderList get_headers;
  if (!options.bearer_token.empty()) {
    get_headers = append_header(std::move(get_headers), "Authorization: Bearer " + options.bearer_token);
  }
  get_headers = append_header(std::move(get_headers), "Accept: application/json");
  HeaderList post_headers;
  if (!options.bearer_token.empty()) {
    post_headers = append_header(std::move(post_headers), "Authorization: Bearer " + options.bearer_token);
  }
  post_headers = append_header(std::move(post_headers), "Content-Type: application/json");
  post_headers = append_header(std::move(post_headers), "Accept: application/json");
  post_headers = append_header(std::move(post_headers), "Expect:");  // no 100-continue round trip
  if (!post_headers || !get_headers) return make_error(ErrorCode::kInternal, "curl_slist_append failed");
  return std::unique_ptr<HttpTransport>(
      new CurlTransport(std::move(multi), std::move(post_headers), std::move(get_headers), options));
}

}  // namespace batchwise
