// SPDX-License-Identifier: Apache-2.0
// ONNX importer: protobuf reading, dtype/tensor/attribute conversion, borrowed weights, symbolic
// dims, errors (unsupported ops listed at once, malformed data, bad shapes), function expansion,
// operator support queries and initializer-only reads.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "ir/onnx/importer.hpp"
#include "ir/onnx/tensor_proto.hpp"
#include "test_onnx_util.hpp"

namespace rtx::test {
namespace {

namespace fs = std::filesystem;

TEST_CASE("onnx: a small graph parses and evaluates") {
  ModelBuilder m(17);
  m.input("x", 1, {2, 3}).init_f32("b", {3}, {1, 2, 3});
  m.node("Add", {"x", "b"}, {"s"}, "add");
  m.node("Relu", {"s"}, {"y"}, "relu");
  m.output("y", 1);
  Network net = parse_ok(m);
  CHECK(net.input_names() == std::vector<std::string>{"x"});
  CHECK(net.output_names() == std::vector<std::string>{"y"});
  auto out = run(net, {{"x", f32t({2, 3}, {-5, 0, 1, -1, -3, 4})}});
  // (-5+1, 0+2, 1+3, -1+1, -3+2, 4+3) then relu
  check_close(out.at("y"), {2, 3}, {0, 2, 4, 0, 0, 7});
}

TEST_CASE("onnx: initializers borrow their raw bytes from the parsed model") {
  ModelBuilder m(17);
  m.input("x", 1, {4}).init_f32("w", {4}, {1, 2, 3, 4});
  m.node("Mul", {"x", "w"}, {"y"});
  m.output("y");
  Network net = parse_ok(m);
  const ir::Graph& g = detail::graph_of(net);
  const ir::ValueId w = g.find_value("w");
  REQUIRE(w != ir::kNoValue);
  CHECK(g.value(w).kind == ir::ValueKind::kWeight);
  const HostTensor* t = g.constant_data(w);
  REQUIRE(t);
  CHECK(t->is_borrowed());
  CHECK(values(*t) == std::vector<double>{1, 2, 3, 4});
  // The network still works after the parser and its input bytes are gone.
  auto out = run(net, {{"x", f32t({4}, {2, 2, 2, 2})}});
  check_close(out.at("y"), {4}, {2, 4, 6, 8});
}

TEST_CASE("onnx: TensorProto data types and storage fields convert exactly") {
  const auto convert = [](const pb::TensorProto& t) {
    auto owner = std::make_shared<pb::TensorProto>(t);
    return onnx::tensor_from_proto(*owner, owner, nullptr).clone();
  };
  SUBCASE("float16 bit patterns in int32_data") {
    pb::TensorProto t;
    t.set_data_type(10);
    t.add_dims(3);
    t.add_int32_data(0x3C00);  // 1.0
    t.add_int32_data(0xC000);  // -2.0
    t.add_int32_data(0x3555);  // 0.333251953125
    auto h = convert(t);
    CHECK(h.dtype() == DataType::kF16);
    CHECK(values(h) == std::vector<double>{1.0, -2.0, 0.333251953125});
  }
  SUBCASE("bfloat16 in int32_data") {
    pb::TensorProto t;
    t.set_data_type(16);
    t.add_dims(2);
    t.add_int32_data(0x3F80);  // 1.0
    t.add_int32_data(0x4040);  // 3.0
    auto h = convert(t);
    CHECK(h.dtype() == DataType::kBF16);
    CHECK(values(h) == std::vector<double>{1.0, 3.0});
  }
  SUBCASE("int8, uint8 and bool in int32_data") {
    pb::TensorProto t;
    t.set_data_type(3);
    t.add_dims(3);
    for (int v : {-128, 0, 127}) t.add_int32_data(v);
    CHECK(convert(t).to_ints() == std::vector<int64_t>{-128, 0, 127});
    t.set_data_type(2);
    t.clear_int32_data();
    for (int v : {0, 200, 255}) t.add_int32_data(v);
    CHECK(convert(t).to_ints() == std::vector<int64_t>{0, 200, 255});
    t.set_data_type(9);
    t.clear_int32_data();
    for (int v : {0, 1, 1}) t.add_int32_data(v);
    auto b = convert(t);
    CHECK(b.dtype() == DataType::kBOOL);
    CHECK(b.to_ints() == std::vector<int64_t>{0, 1, 1});
  }
  SUBCASE("int64 keeps all 64 bits, double keeps its precision") {
    pb::TensorProto t;
    t.set_data_type(7);
    t.add_dims(2);
    t.add_int64_data(INT64_MAX);
    t.add_int64_data(-(int64_t{1} << 62) - 1);
    CHECK(convert(t).to_ints() == std::vector<int64_t>{INT64_MAX, -(int64_t{1} << 62) - 1});
    pb::TensorProto d;
    d.set_data_type(11);
    d.add_dims(1);
    d.add_double_data(0.1);
    CHECK(convert(d).get_double(0) == 0.1);
  }
  SUBCASE("fp8 e4m3 / e5m2 bit patterns") {
    pb::TensorProto t;
    t.set_data_type(17);
    t.add_dims(2);
    t.add_int32_data(0x38);  // e4m3: 1.0 (exp 7 = bias)
    t.add_int32_data(0x7E);  // e4m3: 448 (max)
    CHECK(values(convert(t)) == std::vector<double>{1.0, 448.0});
    t.set_data_type(19);
    t.clear_int32_data();
    t.add_int32_data(0x3C);  // e5m2: 1.0
    t.add_int32_data(0xC0);  // e5m2: -2.0
    CHECK(values(convert(t)) == std::vector<double>{1.0, -2.0});
  }
  SUBCASE("4-bit types are packed two per int32_data entry, low nibble first") {
    pb::TensorProto t;
    t.set_data_type(22);  // int4
    t.add_dims(3);
    t.add_int32_data(0x8F);  // elements -1 (0xF), -8 (0x8)
    t.add_int32_data(0x07);  // element 7
    CHECK(convert(t).to_ints() == std::vector<int64_t>{-1, -8, 7});
    t.set_data_type(21);  // uint4: same nibbles read unsigned
    CHECK(convert(t).to_ints() == std::vector<int64_t>{15, 8, 7});
    t.set_data_type(23);  // fp4 e2m1: 0x2 = 1.0, 0x7 = 6.0, 0x9 = -0.5
    t.clear_int32_data();
    t.add_int32_data(0x72);
    t.add_int32_data(0x09);
    CHECK(values(convert(t)) == std::vector<double>{1.0, 6.0, -0.5});
  }
  SUBCASE("raw_data int4 with an odd count uses ceil(n/2) bytes") {
    pb::TensorProto t;
    t.set_data_type(22);
    t.add_dims(3);
    t.set_raw_data(std::string("\x21\x03", 2));
    CHECK(convert(t).to_ints() == std::vector<int64_t>{1, 2, 3});
  }
  SUBCASE("empty tensors and scalars") {
    pb::TensorProto t;
    t.set_data_type(1);
    t.add_dims(0);
    t.add_dims(3);
    auto e = convert(t);
    CHECK(e.valid());
    CHECK(e.shape() == std::vector<int64_t>{0, 3});
    pb::TensorProto s;
    s.set_data_type(1);
    s.add_float_data(2.5f);
    auto sc = convert(s);
    CHECK(sc.rank() == 0);
    CHECK(sc.get_double(0) == 2.5);
  }
}

TEST_CASE("onnx: bad tensors give rtx.onnx.2xx errors") {
  const auto err_of = [](const pb::TensorProto& t) {
    try {
      auto owner = std::make_shared<pb::TensorProto>(t);
      (void)onnx::tensor_from_proto(*owner, owner, nullptr, "tensor under test");
    } catch (const Exception& e) {
      return e.error();
    }
    FAIL("no error");
    return Error{};
  };
  pb::TensorProto t;
  t.set_name("w");
  t.set_data_type(1);
  t.add_dims(4);
  t.set_raw_data(std::string(12, '\0'));  // 3 floats for 4 elements
  Error e = err_of(t);
  CHECK(e.id == "rtx.onnx.202");
  CHECK(e.message.find("'w'") != std::string::npos);
  CHECK(e.message.find("16 bytes") != std::string::npos);

  pb::TensorProto s;
  s.set_data_type(8);  // STRING
  s.add_dims(1);
  e = err_of(s);
  CHECK(e.id == "rtx.onnx.201");
  CHECK(e.message.find("STRING") != std::string::npos);

  pb::TensorProto u;
  u.set_data_type(4);  // UINT16
  CHECK(err_of(u).id == "rtx.onnx.201");

  pb::TensorProto neg;
  neg.set_data_type(1);
  neg.add_dims(-2);
  CHECK(err_of(neg).id == "rtx.onnx.203");

  pb::TensorProto huge;
  huge.set_data_type(1);
  huge.add_dims(int64_t{1} << 40);
  huge.add_dims(int64_t{1} << 40);
  CHECK(err_of(huge).id == "rtx.onnx.203");

  pb::TensorProto few;
  few.set_data_type(7);
  few.add_dims(3);
  few.add_int64_data(1);
  CHECK(err_of(few).id == "rtx.onnx.202");

  pb::TensorProto ext;
  ext.set_name("e");
  ext.set_data_type(1);
  ext.add_dims(1);
  ext.set_data_location(pb::TensorProto_DataLocation_EXTERNAL);
  auto* kv = ext.add_external_data();
  kv->set_key("location");
  kv->set_value("w.bin");
  CHECK(err_of(ext).id == "rtx.onnx.209");  // no model folder known
}

TEST_CASE("onnx: symbolic input dims become dynamic dims with their names") {
  ModelBuilder m(17);
  m.input("x", 1, {"batch", 3, Dim(-1)});
  m.node("Relu", {"x"}, {"y"});
  m.output("y");
  Network net = parse_ok(m);
  const ir::Graph& g = detail::graph_of(net);
  const ir::Value& x = g.value(g.find_value("x"));
  CHECK(x.info.shape == std::vector<int64_t>{ir::kDynamic, 3, ir::kDynamic});
  CHECK(x.dim_names == std::vector<std::string>{"batch", "", ""});
  const ir::Value& y = g.value(g.outputs()[0]);
  CHECK(y.info.shape == std::vector<int64_t>{ir::kDynamic, 3, ir::kDynamic});
  auto out = run(net, {{"x", f32t({2, 3, 1}, {-1, 1, -2, 2, -3, 3})}});
  check_close(out.at("y"), {2, 3, 1}, {0, 1, 0, 2, 0, 3});
}

TEST_CASE("onnx: one error lists every unsupported operator") {
  ModelBuilder m(17);
  m.input("x", 1, {2});
  m.node("Relu", {"x"}, {"a"}, "ok");
  m.node("Foo", {"a"}, {"b"}, "foo1");
  m.node("Bar", {"b"}, {"c"});  // unnamed
  auto& custom = m.node("Fancy", {"c"}, {"d"}, "fancy");
  custom.set_domain("com.example");
  auto* o = m.proto().add_opset_import();
  o->set_domain("com.example");
  o->set_version(3);
  m.node("Foo", {"d"}, {"y"}, "foo2");
  m.output("y");
  onnx::Parser parser;
  const std::string b = m.bytes();
  auto net = parser.parse(b.data(), b.size());
  REQUIRE_FALSE(net.has_value());
  const Error& e = net.error();
  CHECK(e.id == "rtx.onnx.301");
  CHECK(e.message.find("4 nodes use 3 unsupported operators") != std::string::npos);
  CHECK(e.message.find("Foo (domain 'ai.onnx', opset 17) at node 'foo1'") != std::string::npos);
  CHECK(e.message.find("Foo (domain 'ai.onnx', opset 17) at node 'foo2'") != std::string::npos);
  CHECK(e.message.find("Bar (domain 'ai.onnx', opset 17) at node #2 (unnamed)") !=
        std::string::npos);
  CHECK(e.message.find("Fancy (domain 'com.example', opset 3) at node 'fancy'") !=
        std::string::npos);
  const auto& u = parser.unsupported_nodes();
  REQUIRE(u.size() == 4);
  CHECK(u[2].op_type == "Fancy");
  CHECK(u[2].domain == "com.example");
  CHECK(u[2].opset == 3);
  CHECK(u[1].node_name.empty());
  CHECK(u[1].node_index == 2);
  CHECK(parser.errors().size() == 1);
}

TEST_CASE("onnx: an op used below the opset its converter reads is reported with that opset") {
  ModelBuilder m(17);
  m.input("x", 1, {2});
  m.node("Gelu", {"x"}, {"y"}, "g");  // Gelu exists from opset 20
  m.output("y");
  Error e = parse_error(m);
  CHECK(e.id == "rtx.onnx.301");
  CHECK(e.message.find("supported from opset 20") != std::string::npos);
}

TEST_CASE("onnx: malformed and missing models give clear errors, never a crash") {
  onnx::Parser parser;
  const std::string junk = "\xff\xff\xff\xff garbage that is not protobuf";
  auto r = parser.parse(junk.data(), junk.size());
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().id == "rtx.onnx.102");

  auto empty = parser.parse(nullptr, 0);
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error().id == "rtx.onnx.104");  // an empty message is a model without a graph

  auto missing = parser.parse_from_file("/nonexistent/dir/model.onnx");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().id == "rtx.onnx.101");
  CHECK(missing.error().message.find("/nonexistent/dir/model.onnx") != std::string::npos);

  // Every truncation of a valid model is either a valid (smaller) model or an error.
  ModelBuilder m(17);
  m.input("x", 1, {2, 2}).init_f32("w", {2, 2}, {1, 2, 3, 4});
  m.node("MatMul", {"x", "w"}, {"y"});
  m.output("y");
  const std::string b = m.bytes();
  for (size_t n = 0; n < b.size(); ++n) {
    auto t = parser.parse(b.data(), n);
    if (!t) CHECK(t.error().id.rfind("rtx.onnx.", 0) == 0);
  }
  // Flipping each byte must not crash either.
  for (size_t i = 0; i < b.size(); ++i) {
    std::string c = b;
    c[i] = static_cast<char>(c[i] ^ 0x5A);
    auto t = parser.parse(c.data(), c.size());
    if (!t) CHECK(t.error().id.rfind("rtx.", 0) == 0);
  }
}

TEST_CASE("onnx: opset rules") {
  ModelBuilder none(17);
  none.proto().clear_opset_import();
  none.input("x", 1, {1});
  none.node("Relu", {"x"}, {"y"});
  none.output("y");
  CHECK(parse_error(none).id == "rtx.onnx.106");

  ModelBuilder newer(30);
  newer.input("x", 1, {1});
  newer.node("Relu", {"x"}, {"y"});
  newer.output("y");
  onnx::Parser parser;
  const std::string b = newer.bytes();
  auto net = parser.parse(b.data(), b.size());
  CHECK(net.has_value());
  REQUIRE(parser.warnings().size() == 1);
  CHECK(parser.warnings()[0].id == "rtx.onnx.106");

  // "ai.onnx" is the default domain too.
  ModelBuilder alias(13);
  alias.proto().mutable_opset_import(0)->set_domain("ai.onnx");
  alias.input("x", 1, {1});
  alias.node("Relu", {"x"}, {"y"}).set_domain("ai.onnx");
  alias.output("y");
  CHECK(parse_ok(alias).num_layers() == 1);
}

TEST_CASE("onnx: graph structure errors") {
  SUBCASE("an input that names nothing") {
    ModelBuilder m(17);
    m.input("x", 1, {2});
    m.node("Add", {"x", "nothing"}, {"y"}, "add");
    m.output("y");
    Error e = parse_error(m);
    CHECK(e.id == "rtx.onnx.302");
    CHECK(e.message.find("'nothing'") != std::string::npos);
    CHECK(e.message.find("Add node 'add'") != std::string::npos);
  }
  SUBCASE("a value produced twice") {
    ModelBuilder m(17);
    m.input("x", 1, {2});
    m.node("Relu", {"x"}, {"y"});
    m.node("Neg", {"x"}, {"y"});
    m.output("y");
    CHECK(parse_error(m).id == "rtx.onnx.303");
  }
  SUBCASE("inconsistent shapes") {
    ModelBuilder m(17);
    m.input("a", 1, {2, 3}).input("b", 1, {4, 5});
    m.node("MatMul", {"a", "b"}, {"y"}, "mm");
    m.output("y");
    Error e = parse_error(m);
    CHECK(e.id == "rtx.onnx.306");
    CHECK(e.message.find("MatMul node 'mm'") != std::string::npos);
    CHECK(e.message.find("f32[2,3]") != std::string::npos);
    CHECK(e.message.find("[rtx.ir.") != std::string::npos);
  }
  SUBCASE("declared output shape or type disagrees with the computed one") {
    ModelBuilder m(17);
    m.input("x", 1, {2, 3});
    m.node("Relu", {"x"}, {"y"});
    m.output_with_shape("y", 1, {3, 2});
    Error e = parse_error(m);
    CHECK(e.id == "rtx.onnx.307");
    CHECK(e.message.find("[3,2]") != std::string::npos);
    ModelBuilder t(17);
    t.input("x", 1, {2});
    t.node("Relu", {"x"}, {"y"});
    t.output("y", 10);
    CHECK(parse_error(t).id == "rtx.onnx.307");
  }
  SUBCASE("a graph output nothing produces") {
    ModelBuilder m(17);
    m.input("x", 1, {2});
    m.node("Relu", {"x"}, {"y"});
    m.output("z");
    CHECK(parse_error(m).id == "rtx.onnx.309");
  }
  SUBCASE("inputs without a shape, non-tensor inputs, string initializers") {
    ModelBuilder m(17);
    auto* in = m.graph().add_input();
    in->set_name("x");
    in->mutable_type()->mutable_tensor_type()->set_elem_type(1);
    m.node("Relu", {"x"}, {"y"});
    m.output("y");
    CHECK(parse_error(m).id == "rtx.onnx.305");

    ModelBuilder s(17);
    auto* seq = s.graph().add_input();
    seq->set_name("x");
    seq->mutable_type()
        ->mutable_sequence_type()
        ->mutable_elem_type()
        ->mutable_tensor_type()
        ->set_elem_type(1);
    s.node("Identity", {"x"}, {"y"});
    s.output("y");
    Error e = parse_error(s);
    CHECK(e.id == "rtx.onnx.304");
    CHECK(e.message.find("sequence") != std::string::npos);

    ModelBuilder str(17);
    str.input("x", 1, {1});
    str.init("names", 8, {1}).add_string_data("abc");
    str.node("Relu", {"x"}, {"y"});
    str.output("y");
    CHECK(parse_error(str).id == "rtx.onnx.201");
  }
  SUBCASE("training-mode ops are refused with the reason") {
    ModelBuilder m(15);
    m.input("x", 1, {2, 2, 1, 1});
    for (const char* n : {"s", "b", "mu", "var"}) m.init_f32(n, {2}, {1, 1});
    attr_i(m.node("BatchNormalization", {"x", "s", "b", "mu", "var"}, {"y"}, "bn"), "training_mode",
           1);
    m.output("y");
    Error e = parse_error(m);
    CHECK(e.id == "rtx.onnx.312");
    CHECK(e.message.find("training_mode") != std::string::npos);
  }
}

TEST_CASE("onnx: nodes out of topological order are sorted; cycles are errors") {
  ModelBuilder m(17);
  m.input("x", 1, {2});
  m.node("Neg", {"a"}, {"y"}, "second");
  m.node("Relu", {"x"}, {"a"}, "first");
  m.output("y");
  onnx::Parser parser;
  const std::string b = m.bytes();
  auto net = parser.parse(b.data(), b.size());
  REQUIRE(net.has_value());
  REQUIRE(parser.warnings().size() == 1);
  CHECK(parser.warnings()[0].message.find("topological") != std::string::npos);
  check_close(run(*net, {{"x", f32t({2}, {-1, 2})}}).at("y"), {2}, {0, -2});

  ModelBuilder c(17);
  c.input("x", 1, {2});
  c.node("Add", {"x", "b"}, {"a"}, "n1");
  c.node("Neg", {"a"}, {"b"}, "n2");
  c.output("b");
  Error e = parse_error(c);
  CHECK(e.id == "rtx.onnx.302");
  CHECK(e.message.find("cycle") != std::string::npos);
}

TEST_CASE("onnx: a bad attribute on a node does not hide the list of unsupported operators") {
  ModelBuilder m(17);
  m.input("x", 1, {2});
  auto& c = m.node("Constant", {}, {"c"}, "bad_const");
  auto* a = c.add_attribute();
  a->set_name("value");
  a->set_type(pb::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(1);
  a->mutable_t()->add_dims(3);  // no data
  m.node("Add", {"x", "c"}, {"s"});
  m.node("Foo", {"s"}, {"y"}, "foo");
  m.output("y");
  CHECK(parse_error(m).id == "rtx.onnx.301");
  m.graph().mutable_node(2)->set_op_type("Relu");
  Error e = parse_error(m);
  CHECK(e.id == "rtx.onnx.202");
  CHECK(e.message.find("bad_const") != std::string::npos);
}

TEST_CASE("onnx: the error recorder receives errors and warnings") {
  ErrorRecorder rec;
  onnx::Parser parser(&rec);
  ModelBuilder m(30);  // newer than known: a warning
  m.input("x", 1, {1});
  m.node("Foo", {"x"}, {"y"});
  m.output("y");
  const std::string b = m.bytes();
  auto r = parser.parse(b.data(), b.size());
  CHECK_FALSE(r.has_value());
  CHECK(rec.error_count() == 1);
  CHECK(rec.warning_count() == 1);
  CHECK(rec.entries().back().error.id == "rtx.onnx.301");
}

TEST_CASE("onnx: shape subgraphs fold at import (Shape -> Gather -> Concat -> Reshape)") {
  // y = Reshape(x, Concat(Gather(Shape(x), 0), [-1])) : (2,3,4) -> (2,12)
  ModelBuilder m(13);
  m.input("x", 1, {2, 3, 4});
  m.init_i64("zero", {}, {0}).init_i64("minus1", {1}, {-1});
  m.node("Shape", {"x"}, {"s"});
  attr_i(m.node("Gather", {"s", "zero"}, {"n"}), "axis", 0);
  m.node("Unsqueeze", {"n", "axes"}, {"n1"});
  m.init_i64("axes", {1}, {0});
  attr_i(m.node("Concat", {"n1", "minus1"}, {"shape"}), "axis", 0);
  m.node("Reshape", {"x", "shape"}, {"y"}, "reshape");
  m.output("y");
  Network net = parse_ok(m);
  const ir::Graph& g = detail::graph_of(net);
  CHECK(count_ops(net, ir::OpKind::kShape) == 0);
  CHECK(count_ops(net, ir::OpKind::kGather) == 0);
  CHECK(count_ops(net, ir::OpKind::kConcat) == 0);
  CHECK(count_ops(net, ir::OpKind::kReshape) == 1);
  CHECK(g.value(g.outputs()[0]).info.shape == std::vector<int64_t>{2, 12});
}

TEST_CASE("onnx: dynamic batch keeps shape ops but infers ranks") {
  ModelBuilder m(13);
  m.input("x", 1, {"N", 3, 4});
  m.init_i64("zero", {}, {0}).init_i64("minus1", {1}, {-1}).init_i64("axes", {1}, {0});
  m.node("Shape", {"x"}, {"s"});
  attr_i(m.node("Gather", {"s", "zero"}, {"n"}), "axis", 0);
  m.node("Unsqueeze", {"n", "axes"}, {"n1"});
  attr_i(m.node("Concat", {"n1", "minus1"}, {"shape"}), "axis", 0);
  m.node("Reshape", {"x", "shape"}, {"y"});
  m.output("y");
  Network net = parse_ok(m);
  const ir::Graph& g = detail::graph_of(net);
  CHECK(g.value(g.outputs()[0]).info.rank() == 2);
  auto out = run(net, {{"x", f32t({1, 3, 4}, std::vector<double>(12, 1.5))}});
  CHECK(out.at("y").shape() == std::vector<int64_t>{1, 12});
}

TEST_CASE("onnx: a computed Reshape target keeps its constant dims static (x.view(b, s, 4, 16))") {
  // y = Reshape(Transpose(x), [Shape(t)[0], Shape(t)[1], 4, 16]) with t = Transpose(x, [1,0,2]):
  // the unknown elements are t's own dims 0 and 1, so the target becomes [0, 0, 4, 16].
  ModelBuilder m(13);
  m.input("x", 1, {"S", "B", 64});
  m.init_i64("i0", {1}, {0}).init_i64("i1", {1}, {1}).init_i64("h", {1}, {4}).init_i64("d", {1}, {16});
  attr_ints(m.node("Transpose", {"x"}, {"t"}), "perm", {1, 0, 2});
  m.node("Shape", {"t"}, {"s"});
  attr_i(m.node("Gather", {"s", "i0"}, {"b"}), "axis", 0);
  attr_i(m.node("Gather", {"s", "i1"}, {"q"}), "axis", 0);
  attr_i(m.node("Concat", {"b", "q", "h", "d"}, {"target"}), "axis", 0);
  m.node("Reshape", {"t", "target"}, {"y"});
  // Shape(y)[3] is fully known (16): it folds to a constant.
  m.node("Shape", {"y"}, {"ys"});
  m.init_i64("i3", {1}, {3});
  attr_i(m.node("Gather", {"ys", "i3"}, {"last"}), "axis", 0);
  m.output("y").output("last");
  Network net = parse_ok(m);
  const ir::Graph& g = detail::graph_of(net);
  CHECK(g.value(g.find_value("y")).info.shape == std::vector<int64_t>{ir::kDynamic, ir::kDynamic, 4, 16});
  const ir::ValueId last = g.find_value("last");
  REQUIRE(g.constant_data(last));
  CHECK(g.constant_data(last)->to_ints() == std::vector<int64_t>{16});
  CHECK(count_ops(net, ir::OpKind::kConcat) == 0);
  auto out = run(net, {{"x", f32t({3, 2, 64}, std::vector<double>(384, 0.5))}});
  CHECK(out.at("y").shape() == std::vector<int64_t>{2, 3, 4, 16});
}

TEST_CASE("onnx: model-local functions are expanded with attribute references") {
  // com.example.ScaledRelu(x) = Relu(x) * alpha, alpha an attribute of the call.
  ModelBuilder m(17);
  auto* o = m.proto().add_opset_import();
  o->set_domain("com.example");
  o->set_version(1);
  auto* f = m.proto().add_functions();
  f->set_name("ScaledRelu");
  f->set_domain("com.example");
  f->add_input("X");
  f->add_output("Y");
  f->add_attribute("alpha");
  auto* fo = f->add_opset_import();
  fo->set_domain("");
  fo->set_version(17);
  {
    auto* n = f->add_node();
    n->set_op_type("Relu");
    n->add_input("X");
    n->add_output("r");
    auto* c = f->add_node();
    c->set_op_type("Constant");
    c->add_output("a");
    auto* a = c->add_attribute();
    a->set_name("value_float");
    a->set_ref_attr_name("alpha");
    a->set_type(pb::AttributeProto::FLOAT);
    auto* mul = f->add_node();
    mul->set_op_type("Mul");
    mul->add_input("r");
    mul->add_input("a");
    mul->add_output("Y");
  }
  m.input("x", 1, {3});
  auto& call1 = m.node("ScaledRelu", {"x"}, {"h"}, "call1");
  call1.set_domain("com.example");
  attr_f(call1, "alpha", 2.0f);
  auto& call2 = m.node("ScaledRelu", {"h"}, {"y"}, "call2");
  call2.set_domain("com.example");
  attr_f(call2, "alpha", -3.0f);
  m.output("y");
  Network net = parse_ok(m);
  auto out = run(net, {{"x", f32t({3}, {-1, 0.5, 2})}});
  // relu(relu(x) * 2) * -3 = (0, 1, 4) * -3
  check_close(out.at("y"), {3}, {0, -3, -12});
}

TEST_CASE("onnx: recursive functions are stopped") {
  ModelBuilder m(17);
  auto* o = m.proto().add_opset_import();
  o->set_domain("com.example");
  o->set_version(1);
  auto* f = m.proto().add_functions();
  f->set_name("Loop");
  f->set_domain("com.example");
  f->add_input("X");
  f->add_output("Y");
  auto* n = f->add_node();
  n->set_op_type("Loop");
  n->set_domain("com.example");
  n->add_input("X");
  n->add_output("Y");
  m.input("x", 1, {1});
  m.node("Loop", {"x"}, {"y"}).set_domain("com.example");
  m.output("y");
  Error e = parse_error(m);
  CHECK(e.id == "rtx.onnx.311");
}

TEST_CASE("onnx: operator support queries") {
  CHECK(onnx::Parser::supports_operator("Conv"));
  CHECK(onnx::Parser::supports_operator("Conv", 11, "ai.onnx"));
  CHECK_FALSE(onnx::Parser::supports_operator("Conv", 11, "com.microsoft"));
  CHECK_FALSE(onnx::Parser::supports_operator("Loop"));
  CHECK(onnx::Parser::supports_operator("Gelu", 20));
  CHECK_FALSE(onnx::Parser::supports_operator("Gelu", 17));
  CHECK_FALSE(onnx::Parser::supports_operator("Add", 6));  // legacy broadcast attribute forms
  const auto ops = onnx::Parser::supported_operators();
  CHECK(std::is_sorted(ops.begin(), ops.end()));
  CHECK(std::find(ops.begin(), ops.end(), "Attention") != ops.end());
  CHECK(std::find(ops.begin(), ops.end(), "Upsample") != ops.end());
}

}  // namespace
}  // namespace rtx::test
