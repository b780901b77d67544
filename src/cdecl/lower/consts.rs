//! Constant evaluation: the integer expressions of array lengths, enumerator
//! values and `#define`s, with CFFI's rules and messages.

use super::*;

impl Lowerer<'_> {
    /// Evaluates an integer constant expression as CFFI does (plus a few more operators).
    pub(super) fn eval(&mut self, e: &Node<Expression>) -> Result<i128> {
        self.enter()?;
        let r = self.eval_inner(e);
        self.depth -= 1;
        r
    }

    pub(super) fn eval_inner(&mut self, e: &Node<Expression>) -> Result<i128> {
        let unsupported = |s: &Self| {
            s.ffi_at(
                e.span.start,
                "unsupported expression: expected a simple numeric constant",
            )
        };
        let overflow = || Error::CDef("integer constant out of range".into());
        match &e.node {
            Expression::Constant(c) => match &c.node {
                Constant::Integer(i) => {
                    let radix = match i.base {
                        IntegerBase::Decimal => 10,
                        IntegerBase::Octal => 8,
                        IntegerBase::Hexadecimal => 16,
                        IntegerBase::Binary => 2,
                    };
                    let digits = match i.base {
                        IntegerBase::Octal => i.number.trim_start_matches('0'),
                        _ => &i.number,
                    };
                    if digits.is_empty() {
                        return Ok(0);
                    }
                    i128::from_str_radix(digits, radix)
                        .map_err(|_| Error::CDef(format!("invalid constant '{}'", i.number)))
                }
                Constant::Character(s) => {
                    char_value(s).ok_or_else(|| Error::CDef(format!("invalid constant {s}")))
                }
                Constant::Float(_) => Err(unsupported(self)),
            },
            Expression::Identifier(id) => match self.decls.lib_items.get(&id.node.name) {
                Some(Decl::Constant {
                    value: ConstValue::Int(v),
                    ..
                }) => Ok(*v),
                _ => Err(unsupported(self)),
            },
            Expression::UnaryOperator(u) => {
                let v = self.eval(&u.node.operand)?;
                match u.node.operator.node {
                    UnaryOperator::Plus => Ok(v),
                    UnaryOperator::Minus => v.checked_neg().ok_or_else(overflow),
                    UnaryOperator::Complement => Ok(!v),
                    UnaryOperator::Negate => Ok(i128::from(v == 0)),
                    _ => Err(unsupported(self)),
                }
            }
            Expression::BinaryOperator(b) => {
                let l = self.eval(&b.node.lhs)?;
                let r = self.eval(&b.node.rhs)?;
                let shift = |r: i128| {
                    u32::try_from(r)
                        .ok()
                        .filter(|&s| s < 127)
                        .ok_or_else(overflow)
                };
                match b.node.operator.node {
                    BinaryOperator::Plus => l.checked_add(r).ok_or_else(overflow),
                    BinaryOperator::Minus => l.checked_sub(r).ok_or_else(overflow),
                    BinaryOperator::Multiply => l.checked_mul(r).ok_or_else(overflow),
                    BinaryOperator::Divide => l
                        .checked_div(r)
                        .ok_or_else(|| Error::CDef("division by zero in constant".into())),
                    BinaryOperator::Modulo => l
                        .checked_rem(r)
                        .ok_or_else(|| Error::CDef("division by zero in constant".into())),
                    BinaryOperator::ShiftLeft => {
                        let s = shift(r)?;
                        let v = l.checked_shl(s).ok_or_else(overflow)?;
                        if v >> s != l {
                            return Err(overflow());
                        }
                        Ok(v)
                    }
                    BinaryOperator::ShiftRight => Ok(l >> shift(r)?),
                    BinaryOperator::BitwiseAnd => Ok(l & r),
                    BinaryOperator::BitwiseOr => Ok(l | r),
                    BinaryOperator::BitwiseXor => Ok(l ^ r),
                    _ => Err(unsupported(self)),
                }
            }
            _ => Err(unsupported(self)),
        }
    }
}

pub(super) fn is_ident(e: &Node<Expression>, name: &str) -> bool {
    matches!(&e.node, Expression::Identifier(id) if id.node.name == name)
}
