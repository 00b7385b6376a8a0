// OpenSSL's libcrypto, for SHA-256 only (EVP digest API).
#include <openssl/evp.h>
