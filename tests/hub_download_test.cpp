// hub_download against the stand-in hub: cache layout, resume, verification, errors, offline.
#include <gtest/gtest.h>

#include <thread>

#include "hub/hub.h"
#include "support/hub_env.h"
#include "util/error.h"

namespace rwkv::test {
namespace {

namespace fs = std::filesystem;
using hub::HubFile;
using Fault = TestHub::Fault;

const std::string kRepo = "BlinkDL/rwkv7-g1";
const std::string kFile = "model.pth";

class HubDownload : public HubTestBase {
 protected:
  fs::path repo_dir() const { return opt.cache_dir / "models--BlinkDL--rwkv7-g1"; }
  std::string message_of(const HubFile& f) {
    try {
      hub::hub_download(f, opt);
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "hub_download did not throw";
    return {};
  }
};

TEST_F(HubDownload, FirstCallDownloadsSecondUsesTheCacheWithTheServerStopped) {
  const std::string bytes = random_bytes(300000);
  const std::string commit = hub.add_file(kRepo, "main", kFile, bytes, /*lfs=*/true);
  const std::string sha = hub.etag(kRepo, "main", kFile);

  const fs::path p = hub::hub_download({kRepo, "main", kFile}, opt);
  EXPECT_EQ(p, repo_dir() / "snapshots" / commit / kFile);
  EXPECT_EQ(read_file(p), bytes);
  // huggingface_hub's layout: a relative link to the blob named by the sha256, a ref to the commit.
  ASSERT_TRUE(fs::is_symlink(p));
  EXPECT_EQ(fs::read_symlink(p), fs::path("../../blobs") / sha);
  EXPECT_EQ(read_file(repo_dir() / "refs" / "main"), commit);
  EXPECT_FALSE(fs::exists(repo_dir() / "blobs" / (sha + ".incomplete")));
  EXPECT_TRUE(fs::exists(opt.cache_dir / ".locks" / "models--BlinkDL--rwkv7-g1" / (sha + ".lock")));

  // The LFS file came from the "CDN" host, and the metadata from a HEAD on the resolve URL.
  ASSERT_EQ(requests_to("/cdn/").size(), 1u);
  EXPECT_EQ(requests_to("/resolve/")[0].method, "HEAD");
  EXPECT_EQ(requests_to("/cdn/")[0].host.rfind("localhost:", 0), 0u);
  EXPECT_NE(requests_to("/resolve/")[0].user_agent.find("rwkv-engine/"), std::string::npos);

  hub.stop();
  const size_t before = hub.requests().size();
  EXPECT_EQ(hub::hub_download({kRepo, "main", kFile}, opt), p);
  EXPECT_EQ(hub::cached_path({kRepo, "main", kFile}, opt), p);
  EXPECT_EQ(hub.requests().size(), before);
}

TEST_F(HubDownload, SmallGitFileIsServedDirectlyAndNamedByItsEtag) {
  const std::string commit = hub.add_file(kRepo, "main", "config.json", R"({"n_layer": 3})", /*lfs=*/false);
  const fs::path p = hub::hub_download({kRepo, "main", "config.json"}, opt);
  EXPECT_EQ(read_file(p), R"({"n_layer": 3})");
  EXPECT_EQ(fs::read_symlink(p), fs::path("../../blobs") / hub.etag(kRepo, "main", "config.json"));
  EXPECT_TRUE(requests_to("/cdn/").empty());
}

TEST_F(HubDownload, FileInASubfolderLinksWithTheRightDepth) {
  const std::string commit = hub.add_file(kRepo, "main", "onnx/sub dir/x.bin", "abc", /*lfs=*/true);
  const fs::path p = hub::hub_download({kRepo, "main", "onnx/sub dir/x.bin"}, opt);
  EXPECT_EQ(p, repo_dir() / "snapshots" / commit / "onnx" / "sub dir" / "x.bin");
  EXPECT_EQ(read_file(p), "abc");
  EXPECT_EQ(fs::read_symlink(p).string().rfind("../../../../blobs/", 0), 0u);
  EXPECT_NE(requests_to("/resolve/")[0].target.find("/onnx/sub%20dir/x.bin"), std::string::npos);
}

TEST_F(HubDownload, RevisionWithSlashesIsEncodedAndNestsInRefs) {
  const std::string commit = hub.add_file("RWKV/rwkv-5-world-1b5", "refs/pr/2", "model.safetensors", "weights", true);
  const fs::path p = hub::hub_download({"RWKV/rwkv-5-world-1b5", "refs/pr/2", "model.safetensors"}, opt);
  EXPECT_EQ(read_file(p), "weights");
  EXPECT_EQ(read_file(opt.cache_dir / "models--RWKV--rwkv-5-world-1b5" / "refs" / "refs" / "pr" / "2"), commit);
  EXPECT_NE(requests_to("/resolve/")[0].target.find("/resolve/refs%2Fpr%2F2/model.safetensors"), std::string::npos);
  // A commit hash as the revision is found without a ref.
  hub.stop();
  EXPECT_EQ(hub::hub_download({"RWKV/rwkv-5-world-1b5", commit, "model.safetensors"}, opt), p);
}

TEST_F(HubDownload, DroppedConnectionIsResumedWithRange) {
  const std::string bytes = random_bytes(200000);
  hub.add_file(kRepo, "main", kFile, bytes, true);
  hub.inject(kFile, Fault::DropMidway);
  const fs::path p = hub::hub_download({kRepo, "main", kFile}, opt);
  EXPECT_EQ(read_file(p), bytes);
  const auto gets = requests_to("/cdn/");
  ASSERT_EQ(gets.size(), 2u);
  EXPECT_EQ(gets[0].range, "");
  EXPECT_EQ(gets[1].range, "bytes=100000-");
}

TEST_F(HubDownload, InterruptedDownloadResumesOnTheNextRun) {
  const std::string bytes = random_bytes(200000);
  hub.add_file(kRepo, "main", kFile, bytes, true);
  const std::string sha = hub.etag(kRepo, "main", kFile);
  hub.inject(kFile, Fault::DropMidway);
  opt.max_resumes = 0;
  std::string msg;
  try {
    hub::hub_download({kRepo, "main", kFile}, opt);
  } catch (const Error& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("run again to resume"), std::string::npos) << msg;
  const fs::path part = repo_dir() / "blobs" / (sha + ".incomplete");
  ASSERT_TRUE(fs::exists(part));
  EXPECT_EQ(fs::file_size(part), 100000u);
  EXPECT_FALSE(hub::cached_path({kRepo, "main", kFile}, opt));  // nothing visible as complete

  hub.clear_requests();
  const fs::path p = hub::hub_download({kRepo, "main", kFile}, opt);
  EXPECT_EQ(read_file(p), bytes);
  ASSERT_EQ(requests_to("/cdn/").size(), 1u);
  EXPECT_EQ(requests_to("/cdn/")[0].range, "bytes=100000-");
  EXPECT_FALSE(fs::exists(part));
}

TEST_F(HubDownload, ServerThatIgnoresRangeRestartsFromZero) {
  const std::string bytes = random_bytes(50000);
  hub.add_file(kRepo, "main", kFile, bytes, true);
  hub.inject(kFile, Fault::DropMidway);
  hub.inject(kFile, Fault::IgnoreRange);
  EXPECT_EQ(read_file(hub::hub_download({kRepo, "main", kFile}, opt)), bytes);
}

TEST_F(HubDownload, CorruptDownloadIsDetectedAndRetriedOnce) {
  const std::string bytes = random_bytes(100000);
  hub.add_file(kRepo, "main", kFile, bytes, true);
  hub.inject(kFile, Fault::Corrupt);
  EXPECT_EQ(read_file(hub::hub_download({kRepo, "main", kFile}, opt)), bytes);
  EXPECT_EQ(requests_to("/cdn/").size(), 2u);
}

TEST_F(HubDownload, MoreBytesThanAnnouncedIsCorrupt) {
  const std::string bytes = random_bytes(10000);
  hub.add_file(kRepo, "main", kFile, bytes, true);
  hub.inject(kFile, Fault::ExtraBytes);
  EXPECT_EQ(read_file(hub::hub_download({kRepo, "main", kFile}, opt)), bytes);
  EXPECT_EQ(requests_to("/cdn/").size(), 2u);
}

TEST_F(HubDownload, PassingCdnErrorIsRetried) {
  const std::string bytes = random_bytes(10000);
  hub.add_file(kRepo, "main", kFile, bytes, true);
  hub.inject(kFile, Fault::CdnError, 2);
  EXPECT_EQ(read_file(hub::hub_download({kRepo, "main", kFile}, opt)), bytes);
  EXPECT_EQ(requests_to("/cdn/").size(), 3u);

  opt.max_resumes = 1;
  hub.add_file(kRepo, "main", "other.pth", bytes + "x", true);
  hub.inject("other.pth", Fault::CdnError, 2);
  const std::string msg = message_of({kRepo, "main", "other.pth"});
  EXPECT_NE(msg.find("503"), std::string::npos) << msg;
  EXPECT_NE(msg.find("run again to resume"), std::string::npos) << msg;
}

TEST_F(HubDownload, CorruptTwiceIsAnErrorAndLeavesNothing) {
  hub.add_file(kRepo, "main", kFile, random_bytes(100000), true);
  const std::string sha = hub.etag(kRepo, "main", kFile);
  hub.inject(kFile, Fault::Corrupt, 2);
  const std::string msg = message_of({kRepo, "main", kFile});
  EXPECT_NE(msg.find("corrupt"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sha256"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(repo_dir() / "blobs" / sha));
  EXPECT_FALSE(fs::exists(repo_dir() / "blobs" / (sha + ".incomplete")));
  EXPECT_FALSE(hub::cached_path({kRepo, "main", kFile}, opt));
}

TEST_F(HubDownload, GarbagePartialFileFromAnotherRunIsReplaced) {
  const std::string bytes = random_bytes(100000);
  hub.add_file(kRepo, "main", kFile, bytes, true);
  const std::string sha = hub.etag(kRepo, "main", kFile);
  fs::create_directories(repo_dir() / "blobs");
  write_file(repo_dir() / "blobs" / (sha + ".incomplete"), random_bytes(40000, 7));  // not a prefix
  EXPECT_EQ(read_file(hub::hub_download({kRepo, "main", kFile}, opt)), bytes);
}

TEST_F(HubDownload, NotFoundNamesWhatIsMissing) {
  hub.add_file(kRepo, "main", kFile, "x", true);
  std::string msg = message_of({kRepo, "main", "missing.pth"});
  EXPECT_NE(msg.find("'missing.pth'"), std::string::npos) << msg;
  EXPECT_NE(msg.find(kRepo), std::string::npos) << msg;
  EXPECT_NE(msg.find("revision main"), std::string::npos) << msg;
  EXPECT_NE(msg.find("404"), std::string::npos) << msg;

  msg = message_of({kRepo, "v9", kFile});
  EXPECT_NE(msg.find("revision 'v9' not found in BlinkDL/rwkv7-g1"), std::string::npos) << msg;

  // An unknown repo without a token is a 401 on the hub: the message says what to try.
  msg = message_of({"nobody/nothing", "main", kFile});
  EXPECT_NE(msg.find("401"), std::string::npos) << msg;
  EXPECT_NE(msg.find("HF_TOKEN"), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
}

TEST_F(HubDownload, TokenGoesToTheHubAsBearerButNotToTheCdn) {
  const std::string bytes = random_bytes(1000);
  hub.add_file(kRepo, "main", kFile, bytes, true);
  hub.require_token("hf_secret");

  std::string msg = message_of({kRepo, "main", kFile});
  EXPECT_NE(msg.find("401"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Set HF_TOKEN"), std::string::npos) << msg;

  opt.token = "hf_wrong";
  opt.token_source = "HF_TOKEN";
  msg = message_of({kRepo, "main", kFile});
  EXPECT_NE(msg.find("the token from HF_TOKEN is invalid"), std::string::npos) << msg;

  opt.token = "hf_secret";
  hub.clear_requests();
  EXPECT_EQ(read_file(hub::hub_download({kRepo, "main", kFile}, opt)), bytes);
  for (const auto& r : requests_to("/resolve/")) EXPECT_EQ(r.authorization, "Bearer hf_secret");
  ASSERT_FALSE(requests_to("/cdn/").empty());
  for (const auto& r : requests_to("/cdn/")) EXPECT_EQ(r.authorization, "") << "token leaked to " << r.host;
}

TEST_F(HubDownload, ForbiddenSaysTheRepoIsGated) {
  hub.add_file(kRepo, "main", kFile, "x", true);
  hub.inject(kFile, Fault::Forbidden);
  const std::string msg = message_of({kRepo, "main", kFile});
  EXPECT_NE(msg.find("403"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("HF_TOKEN"), std::string::npos) << msg;
}

TEST_F(HubDownload, OfflineUsesTheCacheAndNamesWhatIsMissing) {
  hub.add_file(kRepo, "main", kFile, "cached bytes", true);
  const fs::path p = hub::hub_download({kRepo, "main", kFile}, opt);
  hub.clear_requests();
  opt.offline = true;
  EXPECT_EQ(hub::hub_download({kRepo, "main", kFile}, opt), p);
  opt.revalidate = true;  // offline wins over revalidation
  EXPECT_EQ(hub::hub_download({kRepo, "main", kFile}, opt), p);

  const std::string msg = message_of({kRepo, "main", "other.pth"});
  EXPECT_NE(msg.find("HF_HUB_OFFLINE"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'other.pth' from BlinkDL/rwkv7-g1 at revision main"), std::string::npos) << msg;
  EXPECT_NE(msg.find("other.pth is missing"), std::string::npos) << msg;
  EXPECT_TRUE(hub.requests().empty());
}

TEST_F(HubDownload, NoNetworkNamesTheEndpointAndTheWaysAround) {
  hub.add_file(kRepo, "main", kFile, "x", true);
  hub.stop();
  const std::string msg = message_of({kRepo, "main", kFile});
  EXPECT_NE(msg.find(hub.endpoint()), std::string::npos) << msg;
  EXPECT_NE(msg.find("HF_ENDPOINT"), std::string::npos) << msg;
  EXPECT_NE(msg.find("HF_HUB_OFFLINE"), std::string::npos) << msg;
}

TEST_F(HubDownload, UnresolvableHostIsANetworkError) {
  opt.endpoint = "http://no-such-host.invalid";
  const std::string msg = message_of({kRepo, "main", kFile});
  EXPECT_NE(msg.find("no answer from http://no-such-host.invalid"), std::string::npos) << msg;
}

// A cache as huggingface_hub writes it, made here by hand: found with no network at all.
TEST_F(HubDownload, CacheWrittenByHuggingfaceHubIsFound) {
  const std::string commit = "0123456789abcdef0123456789abcdef01234567";
  const std::string sha = std::string(64, 'e');
  const fs::path repo = opt.cache_dir / "models--RWKV--v5-Eagle-7B-HF";
  fs::create_directories(repo / "blobs");
  fs::create_directories(repo / "refs" / "refs" / "pr");
  fs::create_directories(repo / "snapshots" / commit / "tok");
  write_file(repo / "blobs" / sha, "vocab from python");
  write_file(repo / "refs" / "refs" / "pr" / "1", commit);
  fs::create_symlink(fs::path("../../../blobs") / sha, repo / "snapshots" / commit / "tok" / "vocab.txt");
  opt.endpoint = "http://127.0.0.1:1";  // nothing listens there

  const HubFile f{"RWKV/v5-Eagle-7B-HF", "refs/pr/1", "tok/vocab.txt"};
  const fs::path p = hub::hub_download(f, opt);
  EXPECT_EQ(p, repo / "snapshots" / commit / "tok" / "vocab.txt");
  EXPECT_EQ(read_file(p), "vocab from python");
  EXPECT_EQ(hub::cached_path({"RWKV/v5-Eagle-7B-HF", commit, "tok/vocab.txt"}, opt), p);
  EXPECT_FALSE(hub::cached_path({"RWKV/v5-Eagle-7B-HF", "main", "tok/vocab.txt"}, opt));
}

TEST_F(HubDownload, DanglingSnapshotLinkIsAMissAndGetsRepaired) {
  hub.add_file(kRepo, "main", kFile, "abc", true);
  const fs::path p = hub::hub_download({kRepo, "main", kFile}, opt);
  fs::remove(repo_dir() / "blobs" / hub.etag(kRepo, "main", kFile));  // e.g. a cache cleaner
  EXPECT_FALSE(hub::cached_path({kRepo, "main", kFile}, opt));
  EXPECT_EQ(read_file(hub::hub_download({kRepo, "main", kFile}, opt)), "abc");
}

TEST_F(HubDownload, RevalidationFollowsAMovedBranchAndFallsBackWhenOffline) {
  const std::string c1 = hub.add_file(kRepo, "main", kFile, "version 1", true);
  hub::hub_download({kRepo, "main", kFile}, opt);
  const std::string c2 = hub.add_file(kRepo, "main", kFile, "version 2", true);
  ASSERT_NE(c1, c2);

  EXPECT_EQ(read_file(hub::hub_download({kRepo, "main", kFile}, opt)), "version 1");  // cache first
  opt.revalidate = true;
  EXPECT_EQ(read_file(hub::hub_download({kRepo, "main", kFile}, opt)), "version 2");
  EXPECT_EQ(read_file(repo_dir() / "refs" / "main"), c2);
  // The old snapshot stays, as in huggingface_hub.
  EXPECT_EQ(read_file(repo_dir() / "snapshots" / c1 / kFile), "version 1");

  hub.stop();  // revalidating, but the hub is gone: the cached file is still good enough
  EXPECT_EQ(read_file(hub::hub_download({kRepo, "main", kFile}, opt)), "version 2");
}

TEST_F(HubDownload, ServerErrorWhileRevalidatingFallsBackToTheCache) {
  hub.add_file(kRepo, "main", kFile, "abc", true);
  const fs::path p = hub::hub_download({kRepo, "main", kFile}, opt);
  opt.revalidate = true;
  hub.inject(kFile, Fault::ServerError);
  EXPECT_EQ(hub::hub_download({kRepo, "main", kFile}, opt), p);
}

TEST_F(HubDownload, FullDiskIsAClearErrorAndNothingLooksComplete) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  hub.add_file(kRepo, "main", kFile, random_bytes(10000), true);
  const std::string sha = hub.etag(kRepo, "main", kFile);
  fs::create_directories(repo_dir() / "blobs");
  // Every write to the partial file fails with ENOSPC.
  fs::create_symlink("/dev/full", repo_dir() / "blobs" / (sha + ".incomplete"));
  const std::string msg = message_of({kRepo, "main", kFile});
  EXPECT_NE(msg.find("No space left on device"), std::string::npos) << msg;
  EXPECT_NE(msg.find(sha + ".incomplete"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(repo_dir() / "blobs" / sha));
  EXPECT_FALSE(hub::cached_path({kRepo, "main", kFile}, opt));
}

TEST_F(HubDownload, ConcurrentDownloadsOfOneFileShareOneBlob) {
  const std::string bytes = random_bytes(500000);
  hub.add_file(kRepo, "main", kFile, bytes, true);
  std::vector<std::thread> threads;
  std::vector<std::string> got(4);
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] { got[i] = read_file(hub::hub_download({kRepo, "main", kFile}, opt)); });
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g, bytes);
  EXPECT_EQ(requests_to("/cdn/").size(), 1u);  // the others waited for the lock and found the blob
}

TEST_F(HubDownload, BadNamesAreRejectedBeforeAnyRequest) {
  EXPECT_THROW(hub::hub_download({"../etc", "main", kFile}, opt), Error);
  EXPECT_THROW(hub::hub_download({"a/b/c", "main", kFile}, opt), Error);
  EXPECT_THROW(hub::hub_download({kRepo, "../../x", kFile}, opt), Error);
  EXPECT_THROW(hub::hub_download({kRepo, "main", "../x"}, opt), Error);
  EXPECT_THROW(hub::hub_download({kRepo, "main", "/etc/passwd"}, opt), Error);
  opt.cache_dir.clear();
  EXPECT_THROW(hub::hub_download({kRepo, "main", kFile}, opt), Error);
  EXPECT_TRUE(hub.requests().empty());
}

}  // namespace
}  // namespace rwkv::test
