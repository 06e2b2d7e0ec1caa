// Secure aggregation's messages (fl/privacy/secagg.h) to and from their protobuf form (internal
// header: includes generated code). What comes from the network is checked for size and form
// here, before the protocol object sees it.
#pragma once

#include "fedsign/fl/privacy/secagg.h"
#include "fedsign/net/status.h"
#include "fedsign/v1/federation.pb.h"

namespace fedsign::net {

// Most clients one secure-aggregation round may hold (bounds a SHARE message).
inline constexpr std::size_t kMaxSecAggClients = 10000;

void to_proto(const fl::privacy::AdvertisedKeys& keys, v1::SecAggPublicKeys* out);
Status from_proto(const v1::SecAggPublicKeys& keys, fl::privacy::AdvertisedKeys* out);

void to_proto(const fl::privacy::EncryptedShares& shares, v1::SecAggCipher* out);
Status from_proto(const v1::SecAggCipher& cipher, fl::privacy::EncryptedShares* out);

// UNMASK's two share lists into a request, and back.
void to_proto(const fl::privacy::UnmaskingShares& shares, v1::SecAggRequest* out);
Status from_proto(const v1::SecAggRequest& request, fl::privacy::ClientId client,
                  fl::privacy::UnmaskingShares* out);

}  // namespace fedsign::net
