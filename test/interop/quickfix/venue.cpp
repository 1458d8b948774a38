// A counterparty that is not our engine: QuickFIX C++ (Debian's libquickfix-dev, 1.15.1) as a small venue
// (acceptor, FIX 4.4 and FIX 4.2 sessions) or as a client (--initiator). The interop tests in ../src drive it
// through stdin and read what happened from stdout, one line per event.
//
// Build: g++ -O1 -std=c++14 -Wno-deprecated venue.cpp -lquickfix -lpthread -o venue
//   (C++14, not 17: the 1.15.1 headers still carry dynamic exception specifications, `throw( X )`, which
//   C++17 rejects.)
//
// Usage:
//   venue --port N --dir DIR --spec DIR [--sender VENUE] [--target CLIENT] [--heartbeat 30]
//   venue --initiator --port N --dir DIR --spec DIR [--begin FIX.4.4] [--sender QFCLIENT] [--target FIXMESH]
//
//   --dir   holds QuickFIX's FileStore (DIR/store) and FileLog (DIR/log: every message in and out).
//   --spec  holds FIX44.xml and FIX42.xml (QuickFIX data dictionaries; Debian installs none).
//
// stdin commands (one a line; BEGIN defaults to FIX.4.4 in acceptor mode, to the one session as initiator):
//   skip N [BEGIN]             the next outbound MsgSeqNum jumps by N (forces a gap on the other side)
//   seq [BEGIN]                prints SEQ BEGIN <next sender> <next target>
//   orders N PREFIX [BEGIN]    sends N NewOrderSingle, ClOrdID PREFIX1..PREFIXN
//   logout [BEGIN]             logs the session out
//   quit (or end of input)     stops (forced: no Logout) and exits 0
//
// stdout lines:
//   READY <port> | ERROR <what>
//   LOGON <BEGIN> | LOGOUT <BEGIN>
//   ORDER <ClOrdID> <PossDupFlag Y|N>                       a NewOrderSingle arrived (answered with New + Fill)
//   EXEC <ClOrdID> <ExecType> <OrdStatus> <PossDupFlag>       an ExecutionReport arrived
//   APP <MsgType> <MsgSeqNum>                                any other application message
//   IN <MsgType> <MsgSeqNum> [details] / OUT <MsgType> <MsgSeqNum> [details]   admin messages
//       details: ResendRequest "<BeginSeqNo> <EndSeqNo>"; SequenceReset "GapFill=<Y|N> NewSeqNo=<n>";
//                Reject "<RefSeqNum> <SessionRejectReason> <RefTagID> <Text>"; Logout "<Text>"
//   SKIPPED <BEGIN> <from> <to> | SENT <n> | ERR <what>

#include <quickfix/Application.h>
#include <quickfix/FileLog.h>
#include <quickfix/FileStore.h>
#include <quickfix/Message.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketAcceptor.h>
#include <quickfix/SocketInitiator.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <unistd.h>

namespace {

std::mutex outMutex;

void say(const std::string& line) {
  std::lock_guard<std::mutex> lock(outMutex);
  std::cout << line << std::endl;
}

std::string fieldOr(const FIX::FieldMap& map, int tag, const std::string& dflt = "-") {
  return map.isSetField(tag) ? map.getField(tag) : dflt;
}

class Venue : public FIX::Application {
 public:
  void onCreate(const FIX::SessionID&) override {}

  void onLogon(const FIX::SessionID& id) override { say("LOGON " + id.getBeginString().getString()); }

  void onLogout(const FIX::SessionID& id) override { say("LOGOUT " + id.getBeginString().getString()); }

  void toAdmin(FIX::Message& msg, const FIX::SessionID&) override { say("OUT " + describeAdmin(msg)); }

  void toApp(FIX::Message&, const FIX::SessionID&) throw(FIX::DoNotSend) override {}

  void fromAdmin(const FIX::Message& msg, const FIX::SessionID&) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::RejectLogon) override {
    say("IN " + describeAdmin(msg));
  }

  void fromApp(const FIX::Message& msg, const FIX::SessionID& id) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::UnsupportedMessageType) override {
    const FIX::Header& h = msg.getHeader();
    const std::string type = h.getField(FIX::FIELD::MsgType);
    const std::string possDup = fieldOr(h, FIX::FIELD::PossDupFlag, "N");
    if (type == "D") {
      say("ORDER " + msg.getField(FIX::FIELD::ClOrdID) + " " + possDup);
      answerOrder(msg, id);
    } else if (type == "8") {
      say("EXEC " + fieldOr(msg, FIX::FIELD::ClOrdID) + " " + fieldOr(msg, FIX::FIELD::ExecType) + " " +
          fieldOr(msg, FIX::FIELD::OrdStatus) + " " + possDup);
    } else {
      say("APP " + type + " " + h.getField(FIX::FIELD::MsgSeqNum));
    }
  }

 private:
  std::atomic<long> execs{0};
  std::atomic<long> orders{0};
  const std::string run = std::to_string(getpid()) + "-" +
      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count());

  static std::string describeAdmin(const FIX::Message& msg) {
    const FIX::Header& h = msg.getHeader();
    const std::string type = fieldOr(h, FIX::FIELD::MsgType);
    std::string line = type + " " + fieldOr(h, FIX::FIELD::MsgSeqNum);
    if (h.isSetField(FIX::FIELD::PossDupFlag)) line += " PossDup=" + h.getField(FIX::FIELD::PossDupFlag);
    if (type == "2") {
      line += " " + fieldOr(msg, FIX::FIELD::BeginSeqNo) + " " + fieldOr(msg, FIX::FIELD::EndSeqNo);
    } else if (type == "4") {
      line += " GapFill=" + fieldOr(msg, FIX::FIELD::GapFillFlag, "N") + " NewSeqNo=" + fieldOr(msg, FIX::FIELD::NewSeqNo);
    } else if (type == "3") {
      line += " " + fieldOr(msg, FIX::FIELD::RefSeqNum) + " " + fieldOr(msg, FIX::FIELD::SessionRejectReason) + " " +
              fieldOr(msg, FIX::FIELD::RefTagID) + " " + fieldOr(msg, FIX::FIELD::Text, "");
    } else if (type == "5") {
      line += " " + fieldOr(msg, FIX::FIELD::Text, "");
    } else if (type == "A") {
      line += " HeartBtInt=" + fieldOr(msg, FIX::FIELD::HeartBtInt) + " Reset=" +
              fieldOr(msg, FIX::FIELD::ResetSeqNumFlag, "N");
    }
    return line;
  }

  // An ExecutionReport New, then a Fill of the whole quantity at the limit price (or 100), each with its own
  // ExecID. FIX 4.2 needs ExecTransType and names the fill ExecType=2 with LastShares; FIX 4.4 says F and LastQty.
  void answerOrder(const FIX::Message& order, const FIX::SessionID& id) {
    const bool fix42 = id.getBeginString().getString() == "FIX.4.2";
    const std::string clOrdId = order.getField(FIX::FIELD::ClOrdID);
    const std::string qty = fieldOr(order, FIX::FIELD::OrderQty, "100");
    const std::string px = fieldOr(order, FIX::FIELD::Price, "100");
    const std::string orderId = "O" + run + "-" + std::to_string(++orders);
    for (int fill = 0; fill < 2; ++fill) {
      FIX::Message er;
      er.getHeader().setField(FIX::FIELD::MsgType, "8");
      er.setField(FIX::FIELD::OrderID, orderId);
      er.setField(FIX::FIELD::ClOrdID, clOrdId);
      er.setField(FIX::FIELD::ExecID, "E" + run + "-" + std::to_string(++execs));
      if (fix42) er.setField(FIX::FIELD::ExecTransType, "0");
      er.setField(FIX::FIELD::ExecType, fill ? (fix42 ? "2" : "F") : "0");
      er.setField(FIX::FIELD::OrdStatus, fill ? "2" : "0");
      er.setField(FIX::FIELD::Symbol, fieldOr(order, FIX::FIELD::Symbol, "IBM"));
      er.setField(FIX::FIELD::Side, fieldOr(order, FIX::FIELD::Side, "1"));
      er.setField(FIX::FIELD::OrderQty, qty);
      if (fill) {
        er.setField(fix42 ? FIX::FIELD::LastShares : FIX::FIELD::LastQty, qty);
        er.setField(FIX::FIELD::LastPx, px);
      }
      er.setField(FIX::FIELD::LeavesQty, fill ? "0" : qty);
      er.setField(FIX::FIELD::CumQty, fill ? qty : "0");
      er.setField(FIX::FIELD::AvgPx, fill ? px : "0");
      FIX::Session::sendToTarget(er, id);
    }
  }
};

struct Options {
  bool initiator = false;
  int port = 0;
  std::string dir;
  std::string spec;
  std::string begin = "FIX.4.4";
  std::string sender;
  std::string target;
  int heartbeat = 30;
};

std::string settingsText(const Options& o) {
  std::ostringstream s;
  s << "[DEFAULT]\n"
    << "ConnectionType=" << (o.initiator ? "initiator" : "acceptor") << "\n"
    << "SenderCompID=" << o.sender << "\n"
    << "TargetCompID=" << o.target << "\n"
    << "StartTime=00:00:00\nEndTime=00:00:00\n"
    << "HeartBtInt=" << o.heartbeat << "\n"
    << "FileStorePath=" << o.dir << "/store\n"
    << "FileLogPath=" << o.dir << "/log\n"
    << "UseDataDictionary=Y\n"
    << "ResetOnLogon=N\nResetOnLogout=N\nResetOnDisconnect=N\n"
    << "LogonTimeout=5\nLogoutTimeout=2\n"
    // Without it Nagle holds a message written right after another back until the peer's delayed ACK (~40 ms).
    << "SocketNodelay=Y\n";
  if (o.initiator) {
    s << "SocketConnectHost=127.0.0.1\nSocketConnectPort=" << o.port << "\nReconnectInterval=1\n";
  } else {
    s << "SocketAcceptPort=" << o.port << "\n";
  }
  if (o.initiator) {
    s << "[SESSION]\nBeginString=" << o.begin << "\nDataDictionary=" << o.spec << "/"
      << (o.begin == "FIX.4.2" ? "FIX42.xml" : "FIX44.xml") << "\n";
  } else {
    s << "[SESSION]\nBeginString=FIX.4.4\nDataDictionary=" << o.spec << "/FIX44.xml\n";
    s << "[SESSION]\nBeginString=FIX.4.2\nDataDictionary=" << o.spec << "/FIX42.xml\n";
  }
  return s.str();
}

FIX::Session* sessionFor(const Options& o, const std::string& begin) {
  return FIX::Session::lookupSession(FIX::SessionID(begin, o.sender, o.target));
}

void sendOrders(const Options& o, const std::string& begin, int n, const std::string& prefix) {
  const FIX::SessionID id(begin, o.sender, o.target);
  int sent = 0;
  for (int i = 1; i <= n; ++i) {
    FIX::Message d;
    d.getHeader().setField(FIX::FIELD::MsgType, "D");
    d.setField(FIX::FIELD::ClOrdID, prefix + std::to_string(i));
    if (begin == "FIX.4.2") d.setField(FIX::FIELD::HandlInst, "1");
    d.setField(FIX::FIELD::Symbol, "IBM");
    d.setField(FIX::FIELD::Side, "1");
    d.setField(FIX::FIELD::TransactTime, FIX::UtcTimeStampConvertor::convert(FIX::UtcTimeStamp(), 3));
    d.setField(FIX::FIELD::OrderQty, "100");
    d.setField(FIX::FIELD::OrdType, "2");
    d.setField(FIX::FIELD::Price, "12.5");
    if (FIX::Session::sendToTarget(d, id)) ++sent;
  }
  say("SENT " + std::to_string(sent));
}

// Runs stdin commands until `quit` or end of input.
void commandLoop(const Options& o) {
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    try {
      if (cmd == "quit") return;
      if (cmd == "skip") {
        int n = 0;
        std::string begin = o.begin;
        in >> n >> begin;
        FIX::Session* s = sessionFor(o, begin);
        if (s == nullptr) {
          say("ERR no session " + begin);
          continue;
        }
        const int from = s->getExpectedSenderNum();
        s->setNextSenderMsgSeqNum(from + n);
        say("SKIPPED " + begin + " " + std::to_string(from) + " " + std::to_string(from + n));
      } else if (cmd == "seq") {
        std::string begin = o.begin;
        in >> begin;
        FIX::Session* s = sessionFor(o, begin);
        if (s == nullptr) {
          say("ERR no session " + begin);
          continue;
        }
        say("SEQ " + begin + " " + std::to_string(s->getExpectedSenderNum()) + " " +
            std::to_string(s->getExpectedTargetNum()));
      } else if (cmd == "orders") {
        int n = 0;
        std::string prefix = "Q";
        std::string begin = o.begin;
        in >> n >> prefix >> begin;
        sendOrders(o, begin, n, prefix);
      } else if (cmd == "logout") {
        std::string begin = o.begin;
        in >> begin;
        FIX::Session* s = sessionFor(o, begin);
        if (s == nullptr) {
          say("ERR no session " + begin);
          continue;
        }
        s->logout("venue logs out");
      } else if (!cmd.empty()) {
        say("ERR unknown command " + cmd);
      }
    } catch (std::exception& e) {
      say(std::string("ERR ") + e.what());
    }
  }
}

bool parseArgs(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--initiator") o.initiator = true;
    else if (a == "--port") o.port = std::stoi(next());
    else if (a == "--dir") o.dir = next();
    else if (a == "--spec") o.spec = next();
    else if (a == "--begin") o.begin = next();
    else if (a == "--sender") o.sender = next();
    else if (a == "--target") o.target = next();
    else if (a == "--heartbeat") o.heartbeat = std::stoi(next());
    else return false;
  }
  if (o.sender.empty()) o.sender = o.initiator ? "QFCLIENT" : "VENUE";
  if (o.target.empty()) o.target = o.initiator ? "FIXMESH" : "CLIENT";
  return o.port > 0 && !o.dir.empty() && !o.spec.empty();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    if (!parseArgs(argc, argv, o)) {
      say("ERROR usage: venue [--initiator] --port N --dir DIR --spec DIR [--begin B] [--sender S] [--target T]");
      return 2;
    }
    std::istringstream text(settingsText(o));
    FIX::SessionSettings settings(text);
    Venue app;
    FIX::FileStoreFactory stores(settings);
    FIX::FileLogFactory logs(settings);
    std::unique_ptr<FIX::Initiator> initiator;
    std::unique_ptr<FIX::Acceptor> acceptor;
    if (o.initiator) {
      initiator.reset(new FIX::SocketInitiator(app, stores, settings, logs));
      initiator->start();
    } else {
      acceptor.reset(new FIX::SocketAcceptor(app, stores, settings, logs));
      acceptor->start();
    }
    say("READY " + std::to_string(o.port));
    commandLoop(o);
    // Forced: the tests log out explicitly when that is what they check; at the end they want a quick exit.
    if (initiator) initiator->stop(true);
    if (acceptor) acceptor->stop(true);
    return 0;
  } catch (std::exception& e) {
    say(std::string("ERROR ") + e.what());
    return 1;
  }
}
