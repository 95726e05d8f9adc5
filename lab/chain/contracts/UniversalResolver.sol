// SPDX-License-Identifier: Apache-2.0
// fragscope lab: a Universal Resolver with the ENSIP-23 interface and errors, written for the
// lab because the npm registry does not serve @ensdomains/ens-contracts. It is checked against
// ENS's own client library (@ensdomains/ensjs, tests/test_lab_ens_clients.py), not against
// itself.
//
// resolve(name, data): finds the resolver by walking the registry up from the DNS-encoded name
// (ENSIP-23 findResolver), calls resolve(name, data) on an ENSIP-10 extended resolver or the
// bare call on an exact-match legacy resolver, and returns (result, resolver). An
// OffchainLookup from the resolver is re-raised the ENSIP-21 way: one batch gateway query
// (sender = this contract, urls = the batch gateways, callData = query([request])), answered
// in resolveCallback, which hands the gateway's response to the resolver's own callback.
// Errors are ENSIP-23's: ResolverNotFound, ResolverNotContract, UnsupportedResolverProfile,
// ResolverError, HttpError.
pragma solidity 0.8.26;

contract UniversalResolver {
    // EIP-3668 section "Contract interface".
    error OffchainLookup(
        address sender, string[] urls, bytes callData, bytes4 callbackFunction, bytes extraData
    );
    // ENSIP-23 "Specification" (selectors 0x77209fe8, 0x1e9535f2, 0x7b1c461b, 0x95c0c752,
    // 0x01800152).
    error ResolverNotFound(bytes name);
    error ResolverNotContract(bytes name, address resolver);
    error UnsupportedResolverProfile(bytes4 selector);
    error ResolverError(bytes errorData);
    error HttpError(uint16 status, string message);

    // ENSIP-21 IBatchGateway.Request and query(Request[]) (selector 0xa780bab6).
    struct Request {
        address sender;
        string[] urls;
        bytes data;
    }

    bytes4 private constant BATCH_QUERY = 0xa780bab6;
    bytes4 private constant EXTENDED_RESOLVER = 0x9061b923; // ENSIP-10
    bytes4 private constant SUPPORTS_INTERFACE = 0x01ffc9a7; // ERC-165
    bytes4 private constant OFFCHAIN_LOOKUP = 0x556f1830;
    bytes4 private constant REGISTRY_RESOLVER = 0x0178b8bf; // resolver(bytes32), EIP-137

    address public immutable registry;
    string[] public batchGateways;

    constructor(address ensRegistry, string[] memory gateways) {
        registry = ensRegistry;
        batchGateways = gateways;
    }

    // ENSIP-23 findResolver: the first non-zero resolver from the name up, the name's node,
    // and the offset of the label where the resolver was found.
    function findResolver(bytes memory name)
        public
        view
        returns (address resolver, bytes32 node, uint256 offset)
    {
        node = _namehash(name, 0);
        while (true) {
            resolver = _registryResolver(_namehash(name, offset));
            uint256 size = uint8(name[offset]);
            if (resolver != address(0) || size == 0) break;
            offset += 1 + size;
        }
    }

    function resolve(bytes calldata name, bytes calldata data)
        external
        view
        returns (bytes memory, address)
    {
        (address resolver,, uint256 offset) = findResolver(name);
        if (resolver == address(0)) revert ResolverNotFound(name);
        if (resolver.code.length == 0) revert ResolverNotContract(name, resolver);
        bool extended = _supportsExtended(resolver);
        // ENSIP-10: a resolver found on a parent answers only through resolve(bytes,bytes).
        if (!extended && offset != 0) revert ResolverNotFound(name);
        bytes memory call = extended
            ? abi.encodeWithSelector(EXTENDED_RESOLVER, name, data)
            : bytes(data);
        (bool ok, bytes memory ret) = resolver.staticcall(call);
        if (!ok && ret.length >= 4 && bytes4(ret) == OFFCHAIN_LOOKUP) {
            _batchLookup(resolver, ret, extended, bytes4(data));
        }
        return (_unwrap(ok, ret, extended, bytes4(data)), resolver);
    }

    // EIP-3668 callback of the batch query: response = abi.encode(bool[] failures,
    // bytes[] responses) (ENSIP-21 "Batch Gateway Response").
    function resolveCallback(bytes calldata response, bytes calldata extraData)
        external
        view
        returns (bytes memory, address)
    {
        (address resolver, bytes4 callback, bytes memory innerExtra, bool extended, bytes4 sel) =
            abi.decode(extraData, (address, bytes4, bytes, bool, bytes4));
        (bool[] memory failures, bytes[] memory responses) =
            abi.decode(response, (bool[], bytes[]));
        if (failures.length != 1 || responses.length != 1) revert HttpError(502, "batch size");
        if (failures[0]) {
            bytes memory err = responses[0];
            // ENSIP-23: a failed lookup reverts HttpError; the gateway encoded it so already,
            // or as Error(string) for a non-HTTP failure.
            if (err.length >= 4 && bytes4(err) == HttpError.selector) {
                assembly {
                    revert(add(err, 32), mload(err))
                }
            }
            revert HttpError(0, "batch gateway request failed");
        }
        (bool ok, bytes memory ret) =
            resolver.staticcall(abi.encodeWithSelector(callback, responses[0], innerExtra));
        return (_unwrap(ok, ret, extended, sel), resolver);
    }

    function _batchLookup(address resolver, bytes memory revertData, bool extended, bytes4 sel)
        internal
        view
    {
        (address sender, string[] memory urls, bytes memory callData, bytes4 callback,
            bytes memory innerExtra) =
            abi.decode(_drop4(revertData), (address, string[], bytes, bytes4, bytes));
        // EIP-3668: a lookup whose sender is not the contract called is not to be followed.
        if (sender != resolver) revert ResolverError(revertData);
        Request[] memory requests = new Request[](1);
        requests[0] = Request(sender, urls, callData);
        revert OffchainLookup(
            address(this),
            batchGateways,
            abi.encodeWithSelector(BATCH_QUERY, requests),
            this.resolveCallback.selector,
            abi.encode(resolver, callback, innerExtra, extended, sel)
        );
    }

    // ENSIP-23 "Resolver Errors": an unimplemented function (empty revert, or the resolver's
    // own UnsupportedResolverProfile) is UnsupportedResolverProfile, any other revert is
    // ResolverError; an extended resolver's answer is unwrapped from its bytes.
    function _unwrap(bool ok, bytes memory ret, bool extended, bytes4 sel)
        internal
        pure
        returns (bytes memory)
    {
        if (!ok) {
            if (ret.length == 0 || (ret.length >= 4 && bytes4(ret) == UnsupportedResolverProfile.selector)) {
                revert UnsupportedResolverProfile(sel);
            }
            revert ResolverError(ret);
        }
        return extended ? abi.decode(ret, (bytes)) : ret;
    }

    function _registryResolver(bytes32 node) internal view returns (address) {
        (bool ok, bytes memory ret) =
            registry.staticcall(abi.encodeWithSelector(REGISTRY_RESOLVER, node));
        return ok && ret.length >= 32 ? abi.decode(ret, (address)) : address(0);
    }

    function _supportsExtended(address resolver) internal view returns (bool) {
        (bool ok, bytes memory ret) = resolver.staticcall{gas: 30000}(
            abi.encodeWithSelector(SUPPORTS_INTERFACE, EXTENDED_RESOLVER)
        );
        return ok && ret.length >= 32 && abi.decode(ret, (bool));
    }

    // EIP-137 namehash of the DNS-encoded name from offset; a label "[<64 hex>]" is an
    // ENSIP-1 encoded labelhash, which stands for the hash itself (how clients send labels
    // longer than a length byte can carry).
    function _namehash(bytes memory name, uint256 offset) internal pure returns (bytes32) {
        uint256 size = uint8(name[offset]);
        if (size == 0) return bytes32(0);
        bytes32 rest = _namehash(name, offset + 1 + size);
        return keccak256(abi.encodePacked(rest, _labelhash(name, offset + 1, size)));
    }

    function _labelhash(bytes memory name, uint256 start, uint256 size)
        internal
        pure
        returns (bytes32 hash)
    {
        if (size == 66 && name[start] == "[" && name[start + 65] == "]") {
            (bool ok, bytes32 parsed) = _parseHex(name, start + 1);
            if (ok) return parsed;
        }
        assembly {
            hash := keccak256(add(add(name, 32), start), size)
        }
    }

    function _parseHex(bytes memory s, uint256 start) internal pure returns (bool, bytes32) {
        uint256 value;
        for (uint256 i = 0; i < 64; i++) {
            uint8 c = uint8(s[start + i]);
            uint8 digit;
            if (c >= 48 && c <= 57) digit = c - 48;
            else if (c >= 97 && c <= 102) digit = c - 87;
            else if (c >= 65 && c <= 70) digit = c - 55;
            else return (false, bytes32(0));
            value = (value << 4) | digit;
        }
        return (true, bytes32(value));
    }

    function _drop4(bytes memory data) internal pure returns (bytes memory out) {
        out = new bytes(data.length - 4);
        for (uint256 i = 0; i < out.length; i++) {
            out[i] = data[i + 4];
        }
    }
}
