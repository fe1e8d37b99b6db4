// RecurrentWeightTranspose on tiny graphs: RNN, GRU (both reset forms) and LSTM with constant
// weights take the compiler's form with W and R transposed, and (compiled and run at -O 0 and
// -O extended) give the same numbers; weights computed at run time keep the ONNX form.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/registry.hpp"
#include "pass_helpers.hpp"

using namespace sofiec;
using sofiec_test::expect_same_numbers;
using sofiec_test::ModelBuilder;
using sofiec_test::run_pass;

namespace {

constexpr int64_t kSeq = 5, kBatch = 2, kInput = 3, kHidden = 20;  // 20: a lane tail

std::vector<float> wave(int64_t n, float phase) { return sofiec_test::wave(n, 0.5f, 0.41f, phase); }

void set_string(onnx::NodeProto& n, const std::string& name, const std::string& value) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(value);
}

// X [seq, batch, input] -> op with constant W, R, B -> Y [seq, directions, batch, hidden]
ModelBuilder recurrent_model(const std::string& op, int64_t gates, int64_t directions, int64_t linear_before_reset = 0,
                             int64_t batch = kBatch, int64_t hidden = kHidden) {
  ModelBuilder b(14);
  b.input("x", {kSeq, batch, kInput}).output("y");
  b.init_floats("w", {directions, gates * hidden, kInput}, wave(directions * gates * hidden * kInput, 0.1f));
  b.init_floats("r", {directions, gates * hidden, hidden}, wave(directions * gates * hidden * hidden, 0.7f));
  b.init_floats("bias", {directions, 2 * gates * hidden}, wave(directions * 2 * gates * hidden, 1.3f));
  onnx::NodeProto& n = b.node(op, {"x", "w", "r", "bias"}, {"y"}, "cell");
  ModelBuilder::attr_int(n, "hidden_size", hidden);
  if (directions == 2) set_string(n, "direction", "bidirectional");
  if (op == "GRU") ModelBuilder::attr_int(n, "linear_before_reset", linear_before_reset);
  return b;
}

void expect_transposed_form(const ModelBuilder& b, int64_t gates, int64_t directions) {
  int changes = 0;
  const Graph g = run_pass(b, make_recurrent_weight_transpose(), &changes);
  EXPECT_EQ(changes, 1);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].domain, kSofiecDomain);
  EXPECT_EQ(g.value(g.nodes[0].inputs[1]).shape, to_shape({directions, kInput, gates * kHidden}));
  EXPECT_EQ(g.value(g.nodes[0].inputs[2]).shape, to_shape({directions, kHidden, gates * kHidden}));
}

}  // namespace

TEST(RecurrentWeightTranspose, LstmBidirectional) {
  const ModelBuilder b = recurrent_model("LSTM", 4, 2);
  expect_transposed_form(b, 4, 2);
  expect_same_numbers(b, kSeq * kBatch * kInput);
}

// One batch entry and 72 hidden units: the LSTM step in registers (lstm_step_lanes) with two
// full blocks of 32 units and a tail of 8, R's rows read upward and downward on alternate steps.
TEST(RecurrentWeightTranspose, LstmStepInRegisters) {
  for (int64_t directions : {1, 2}) {
    const ModelBuilder b = recurrent_model("LSTM", 4, directions, 0, 1, 72);
    expect_same_numbers(b, kSeq * kInput);
  }
}

TEST(RecurrentWeightTranspose, GruResetBeforeAndAfterTheProduct) {
  for (int64_t lbr : {0, 1}) {
    const ModelBuilder b = recurrent_model("GRU", 3, 1, lbr);
    expect_transposed_form(b, 3, 1);
    expect_same_numbers(b, kSeq * kBatch * kInput);
  }
}

TEST(RecurrentWeightTranspose, Rnn) {
  const ModelBuilder b = recurrent_model("RNN", 1, 1);
  expect_transposed_form(b, 1, 1);
  expect_same_numbers(b, kSeq * kBatch * kInput);
}

TEST(RecurrentWeightTranspose, WeightsComputedAtRunTimeKeepTheOnnxForm) {
  ModelBuilder b(14);
  b.input("x", {kSeq, kBatch, kInput}).input("r", {1, kHidden, kHidden}).output("y");
  b.init_floats("w", {1, kHidden, kInput}, wave(kHidden * kInput, 0.1f));
  ModelBuilder::attr_int(b.node("RNN", {"x", "w", "r"}, {"y"}, "cell"), "hidden_size", kHidden);
  int changes = 0;
  const Graph g = run_pass(b, make_recurrent_weight_transpose(), &changes);
  EXPECT_EQ(changes, 0);
  EXPECT_TRUE(g.nodes[0].domain.empty());
}
